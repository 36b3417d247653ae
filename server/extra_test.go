package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestSetExtra: records added with SetExtra are answered at once (the packet cache, which is
// on, never serves the answer from before), a change replaces them, a reload of the zone file
// keeps them, records that conflict with the zone are refused with the zone unchanged, and
// nil withdraws them.
func TestSetExtra(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "net.zone")
	head := "$ORIGIN example.net.\n$TTL 300\n@ SOA ns1 host %s 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nwww CNAME ns1\n"
	write := func(serial string) {
		if err := os.WriteFile(path, []byte(strings.Replace(head, "%s", serial, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("1")
	zs := NewZoneSet(quietLogger(), nil)
	if err := zs.Add(ZoneFile{Origin: "example.net.", Path: path}); err != nil {
		t.Fatal(err)
	}
	h := NewHandler(zs, nil, nil, Config{Logger: quietLogger(), PacketCacheSize: 100}, nil)
	sig := "_dsboot.child.test._signal.ns1.example.net."
	ask := func() *dns.Msg {
		t.Helper()
		return unpack(t, h.ServeUDP(pack(t, query(sig, dns.TypeCDS, true)), nil))
	}
	cds := func(tag string) []dns.RR {
		rr, err := dns.NewRR(sig + " 3600 IN CDS " + tag + " 13 2 00ff00ff")
		if err != nil {
			t.Fatal(err)
		}
		return []dns.RR{rr}
	}
	tagOf := func(m *dns.Msg) string {
		if len(m.Answer) != 1 {
			return "rcode " + dns.RcodeToString[m.Rcode]
		}
		return strings.Fields(m.Answer[0].String())[4]
	}

	ask() // cached: NXDOMAIN
	if got := tagOf(ask()); got != "rcode NXDOMAIN" {
		t.Fatalf("before: %s", got)
	}
	if err := zs.SetExtra("Example.NET", cds("111")); err != nil {
		t.Fatal(err)
	}
	if got := tagOf(ask()); got != "111" {
		t.Fatalf("after SetExtra: %s", got)
	}
	ask()
	if err := zs.SetExtra("example.net.", cds("222")); err != nil {
		t.Fatal(err)
	}
	if got := tagOf(ask()); got != "222" {
		t.Fatalf("after the change: %s (a stale cached answer?)", got)
	}

	write("2")
	if err := zs.ReloadZone("example.net."); err != nil {
		t.Fatal(err)
	}
	if got := tagOf(ask()); got != "222" || zs.Store().Get("example.net.").Serial() != 2 {
		t.Fatalf("after a reload: %s, serial %d", got, zs.Store().Get("example.net.").Serial())
	}

	bad, err := dns.NewRR("www.example.net. 300 IN CDS 1 13 2 00ff")
	if err != nil {
		t.Fatal(err)
	}
	if err := zs.SetExtra("example.net.", []dns.RR{bad}); err == nil {
		t.Error("a CDS beside a CNAME was accepted")
	}
	if got := tagOf(ask()); got != "222" {
		t.Fatalf("after a refused SetExtra: %s", got)
	}
	if err := zs.SetExtra("other.test.", cds("1")); err == nil {
		t.Error("SetExtra for a zone not configured succeeded")
	}

	if err := zs.SetExtra("example.net.", nil); err != nil {
		t.Fatal(err)
	}
	if got := tagOf(ask()); got != "rcode NXDOMAIN" {
		t.Fatalf("after withdrawal: %s", got)
	}
	write("3")
	if err := zs.ReloadZone("example.net."); err != nil {
		t.Fatal(err)
	}
	if got := tagOf(ask()); got != "rcode NXDOMAIN" {
		t.Fatalf("withdrawn records came back with a reload: %s", got)
	}
	if h.pcache.hits.Load() == 0 {
		t.Error("the packet cache never answered: the test proves nothing about stale entries")
	}
}
