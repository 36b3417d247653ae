package dsboot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/signer"
)

// lab is a ZoneSet serving a signalling zone (example.net., holding ns1.example.net) and a
// child (child.test.) whose NS names it, a handler answering from them with a real signer, and
// a Publisher.
type lab struct {
	zs   *server.ZoneSet
	keys *keys
	h    *server.Handler
	pub  *Publisher
	log  *bytes.Buffer
}

func newLab(t *testing.T, netExtra ...string) *lab {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"example.net.": "@ NS ns1\nns1 A 192.0.2.1\n" + strings.Join(netExtra, "\n") + "\n",
		"child.test.":  "@ NS ns1.example.net.\n@ NS ns.child.test.\nns A 192.0.2.2\nwww A 192.0.2.3\n",
	}
	l := &lab{keys: newKeys(), log: &bytes.Buffer{}}
	logger := slog.New(slog.NewTextHandler(l.log, nil))
	l.zs = server.NewZoneSet(slog.New(slog.NewTextHandler(io.Discard, nil)), func(string) bool { return true })
	for origin, body := range files {
		path := filepath.Join(dir, origin+"zone")
		text := "$ORIGIN " + origin + "\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n" + body
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := l.zs.Add(server.ZoneFile{Origin: origin, Path: path}); err != nil {
			t.Fatal(err)
		}
	}
	l.keys.set("example.net.", ring(t, "example.net.", signer.RingOptions{}))
	l.h = server.NewHandler(l.zs, l.keys, signer.New(signer.Config{}),
		server.Config{Logger: logger, PacketCacheSize: 100, Now: func() time.Time { return t0 }}, nil)
	var err error
	l.pub, err = NewPublisher(Config{Zones: l.zs.Store(), Keys: l.keys, Apply: l.zs.SetExtra, Logger: logger, Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

const signal = "_dsboot.child.test._signal.ns1.example.net."

// ask queries the handler with DO set.
func (l *lab) ask(t *testing.T, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, true)
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(l.h.ServeUDP(b, nil)); err != nil {
		t.Fatal(err)
	}
	return r
}

// signalMatches checks that the answer for the signal's qtype is the child ring's RRset,
// re-owned, with one RRSIG by the signalling zone's ZSK that verifies.
func (l *lab) signalMatches(t *testing.T, step string, qtype uint16, want []dns.RR) {
	t.Helper()
	r := l.ask(t, signal, qtype)
	var set []dns.RR
	var sigs []*dns.RRSIG
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.RRSIG); ok {
			sigs = append(sigs, s)
		} else {
			set = append(set, rr)
		}
	}
	if rdata(set) != rdata(want) || len(set) == 0 {
		t.Fatalf("%s: %s at the signal:\n%s\nwant\n%s", step, dns.TypeToString[qtype], rdata(set), rdata(want))
	}
	net, _, _ := l.keys.Signing("example.net.")
	var zsk *dns.DNSKEY
	for _, k := range net.Keys() {
		if !k.KSK {
			zsk = k.DNSKEY
		}
	}
	if len(sigs) != 1 || sigs[0].SignerName != "example.net." || sigs[0].KeyTag != zsk.KeyTag() {
		t.Fatalf("%s: signatures %v, want one by example.net.'s ZSK", step, sigs)
	}
	if err := sigs[0].Verify(zsk, set); err != nil {
		t.Fatalf("%s: RRSIG does not verify: %v", step, err)
	}
}

// TestPublisherFollowsTheChild: the signal appears with the child's CDS, follows a KSK
// rollover (CDS for two KSKs, then the new one), turns into the delete sentinels on disable,
// and is withdrawn when the child stops publishing CDS or stops being signed; answers through
// the packet cache never lag behind, and the in-domain name server gets no signal.
func TestPublisherFollowsTheChild(t *testing.T) {
	l := newLab(t)
	if !l.pub.Poll() {
		t.Fatal("the first Poll did not sync")
	}
	if r := l.ask(t, signal, dns.TypeCDS); r.Rcode != dns.RcodeNameError {
		t.Fatalf("child unsigned: rcode %s, want NXDOMAIN", dns.RcodeToString[r.Rcode])
	}
	if l.pub.Poll() {
		t.Error("Poll synced with nothing changed")
	}

	old := genKey(t, "child.test.", true)
	steps := []struct {
		name string
		opt  signer.RingOptions
		ksks []*signer.Key
	}{
		{"CDS published", signer.RingOptions{CDS: true}, []*signer.Key{old}},
		{"new KSK beside the old", signer.RingOptions{CDS: true}, []*signer.Key{old, genKey(t, "child.test.", true)}},
		{"delete sentinels", signer.RingOptions{Delete: true}, []*signer.Key{old}},
	}
	for _, s := range steps {
		cr := ring(t, "child.test.", s.opt, s.ksks...)
		l.ask(t, signal, dns.TypeCDS) // fill the packet cache with the previous answer
		l.keys.set("child.test.", cr)
		if !l.pub.Poll() {
			t.Fatalf("%s: Poll did not see the ring change", s.name)
		}
		l.signalMatches(t, s.name, dns.TypeCDS, cr.CDS())
		l.signalMatches(t, s.name, dns.TypeCDNSKEY, cr.CDNSKEY())
		if r := l.ask(t, "_dsboot.child.test._signal.ns.child.test.", dns.TypeCDS); len(r.Answer) != 0 {
			t.Fatalf("%s: a signal under the in-domain name server: %v", s.name, r.Answer)
		}
	}
	if !strings.Contains(l.log.String(), "signalling records published") {
		t.Errorf("log:\n%s", l.log.String())
	}

	l.keys.set("child.test.", ring(t, "child.test.", signer.RingOptions{}))
	l.pub.Poll()
	if r := l.ask(t, signal, dns.TypeCDS); r.Rcode != dns.RcodeNameError {
		t.Fatalf("CDS withdrawn: rcode %s, answer %v", dns.RcodeToString[r.Rcode], r.Answer)
	}
	if !strings.Contains(l.log.String(), "signalling records withdrawn") {
		t.Errorf("log:\n%s", l.log.String())
	}

	// Run follows a change by itself.
	cr := ring(t, "child.test.", signer.RingOptions{CDS: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.pub.Run(ctx)
	l.keys.set("child.test.", cr)
	deadline := time.Now().Add(5 * time.Second)
	for len(l.ask(t, signal, dns.TypeCDS).Answer) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not publish the signal within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.signalMatches(t, "Run", dns.TypeCDS, cr.CDS())
	l.keys.set("child.test.", nil)
	for len(l.ask(t, signal, dns.TypeCDS).Answer) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not withdraw the signal of an unsigned child within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPublisherSurvivesReload: the signalling zone's reload keeps the signal, and a signal the
// zone cannot take (a CNAME at the signalling name) is logged and leaves the zone serving.
func TestPublisherSurvivesReload(t *testing.T) {
	l := newLab(t)
	cr := ring(t, "child.test.", signer.RingOptions{CDS: true})
	l.keys.set("child.test.", cr)
	if err := l.pub.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := l.zs.ReloadZone("example.net."); err != nil {
		t.Fatal(err)
	}
	if l.pub.Poll() && !strings.Contains(l.log.String(), "published") {
		t.Error("resync after a reload")
	}
	l.signalMatches(t, "after reload", dns.TypeCDS, cr.CDS())

	// A signalling zone with a CNAME at the signalling name cannot take the signal: it is a
	// gap, and the zone goes on serving its own data.
	l = newLab(t, "_dsboot.child.test._signal.ns1 CNAME ns1")
	l.keys.set("child.test.", cr)
	if err := l.pub.Sync(); err != nil {
		t.Errorf("Sync over a CNAME: %v", err)
	}
	if !strings.Contains(l.log.String(), "owns a CNAME in example.net.") {
		t.Errorf("log:\n%s", l.log.String())
	}
	if r := l.ask(t, signal, dns.TypeCDS); len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != dns.TypeCNAME {
		t.Errorf("the zone's own CNAME is no longer served: %v", r)
	}
}

// TestPublisherWithdrawsWhenApplyFails: when the zone cannot take the child's new signals,
// the old ones, which copy CDS the child no longer publishes, are withdrawn, and the error is
// returned; the next change that applies publishes again.
func TestPublisherWithdrawsWhenApplyFails(t *testing.T) {
	l := newLab(t)
	fail := false
	pub, err := NewPublisher(Config{Zones: l.zs.Store(), Keys: l.keys, Logger: slog.New(slog.NewTextHandler(l.log, nil)),
		Apply: func(origin string, rrs []dns.RR) error {
			if fail && rrs != nil {
				return errors.New("no room")
			}
			return l.zs.SetExtra(origin, rrs)
		}})
	if err != nil {
		t.Fatal(err)
	}
	l.keys.set("child.test.", ring(t, "child.test.", signer.RingOptions{CDS: true}))
	if err := pub.Sync(); err != nil {
		t.Fatal(err)
	}
	if len(l.ask(t, signal, dns.TypeCDS).Answer) == 0 {
		t.Fatal("no signal")
	}
	fail = true
	l.keys.set("child.test.", ring(t, "child.test.", signer.RingOptions{CDS: true}))
	if err := pub.Sync(); err == nil || !strings.Contains(err.Error(), "no room") {
		t.Fatalf("Sync: %v", err)
	}
	if r := l.ask(t, signal, dns.TypeCDS); len(r.Answer) != 0 {
		t.Fatalf("a stale signal stayed: %v", r.Answer)
	}
	fail = false
	cr := ring(t, "child.test.", signer.RingOptions{CDS: true})
	l.keys.set("child.test.", cr)
	if !pub.Poll() {
		t.Fatal("no sync after the next change")
	}
	l.signalMatches(t, "after the failure", dns.TypeCDS, cr.CDS())
}
