package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestBrokenZoneAtStart: with SetStrict(false) a zone file that does not parse is configured
// anyway: its names get SERVFAIL (with an Extended DNS Error "Not Ready" when the query has
// EDNS), the other zone answers, Status and the metrics say which zone failed and where, and a
// reload that finds the file fixed serves it. With the default (strict), Add fails.
func TestBrokenZoneAtStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, origin, body string) string {
		p := filepath.Join(dir, name)
		head := "$ORIGIN " + origin + "\n$TTL 300\n@ SOA ns1 host 7 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n"
		if err := os.WriteFile(p, []byte(head+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := ZoneFile{Origin: "good.test.", Path: write("good.zone", "good.test.", "www A 192.0.2.10\n")}
	bad := ZoneFile{Origin: "bad.test.", Path: write("bad.zone", "bad.test.", "www A 192.0.2.20\noops A 999.0.0.1\n")}

	strict := NewZoneSet(quietLogger(), nil)
	if err := strict.Add(bad); err == nil || !strings.Contains(err.Error(), "bad.zone:7") {
		t.Errorf("strict Add: %v, want an error naming bad.zone:7", err)
	}
	if len(strict.Origins()) != 0 {
		t.Errorf("strict: %v configured after a failed Add", strict.Origins())
	}

	zs := NewZoneSet(quietLogger(), nil)
	zs.SetStrict(false)
	for _, f := range []ZoneFile{good, bad} {
		if err := zs.Add(f); err != nil {
			t.Fatalf("Add %s: %v", f.Origin, err)
		}
	}
	addr := serveZoneSet(t, Config{Listen: []string{"127.0.0.1:0"}, Logger: quietLogger()}, zs).udp

	if r := exchange(t, "udp", addr, query("www.good.test.", dns.TypeA, false)); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("good zone: %v", r)
	}
	r := exchange(t, "udp", addr, query("www.bad.test.", dns.TypeA, true))
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("broken zone: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	var ede *dns.EDNS0_EDE
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				ede = e
			}
		}
	}
	if ede == nil || ede.InfoCode != dns.ExtendedErrorCodeNotReady || ede.ExtraText != failedReason {
		t.Errorf("broken zone: EDE %v, want %d %q", ede, dns.ExtendedErrorCodeNotReady, failedReason)
	}
	if r := exchange(t, "udp", addr, query("www.bad.test.", dns.TypeA, false)); r.Rcode != dns.RcodeServerFailure || r.IsEdns0() != nil {
		t.Errorf("broken zone without EDNS: %v, want SERVFAIL without OPT", r)
	}

	st := zs.Status()
	if len(st) != 2 || !st[0].Loaded || st[0].Serial != 7 || st[0].Error != "" || st[0].Failing ||
		st[1].Loaded || !st[1].Failing || !strings.Contains(st[1].Error, "bad.zone:7") || st[1].From != bad.Path {
		t.Errorf("status %+v", st)
	}
	reg := prometheus.NewRegistry()
	if err := zs.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	metrics := func(badFailing string) string {
		return `
# HELP signet_zone_load_failing 1 when the zone's last load failed (its previous version, if any, is still served).
# TYPE signet_zone_load_failing gauge
signet_zone_load_failing{zone="bad.test."} ` + badFailing + `
signet_zone_load_failing{zone="good.test."} 0
`
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(metrics("1")), "signet_zone_load_failing"); err != nil {
		t.Error(err)
	}

	// Still broken: a second failure, still SERVFAIL.
	if err := zs.Reload(); err == nil || !strings.Contains(err.Error(), "bad.zone:7") {
		t.Errorf("reload: %v", err)
	}
	if r := exchange(t, "udp", addr, query("www.bad.test.", dns.TypeA, true)); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("still broken: %v", r)
	}
	write("bad.zone", "bad.test.", "www A 192.0.2.20\n")
	if err := zs.Reload(); err != nil {
		t.Fatalf("reload after the fix: %v", err)
	}
	if r := exchange(t, "udp", addr, query("www.bad.test.", dns.TypeA, true)); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("fixed zone: %v", r)
	}
	if st := zs.Status(); !st[1].Loaded || st[1].Error != "" || st[1].Failing {
		t.Errorf("status after the fix %+v", st[1])
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(metrics("0")), "signet_zone_load_failing"); err != nil {
		t.Error(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	failed := 0.0
	for _, f := range fams {
		if f.GetName() != "signet_zone_loads_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			lab := map[string]string{}
			for _, l := range m.GetLabel() {
				lab[l.GetName()] = l.GetValue()
			}
			if lab["zone"] == "bad.test." && lab["result"] == "failed" {
				failed = m.GetCounter().GetValue()
			}
		}
	}
	if failed != 2 {
		t.Errorf("signet_zone_loads_total{zone=bad.test.,result=failed} = %v, want 2", failed)
	}
}
