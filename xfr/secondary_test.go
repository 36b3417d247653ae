package xfr

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/syncbuf"
	"github.com/signetdns/signet/zones"
)

const testSecret = "c2lnbmV0LXRlc3Qtc2VjcmV0LWZvci14ZnItdGVzdHMhIQ=="

var testKey = &Key{Name: "xfr-key.", Algorithm: dns.HmacSHA256, Secret: testSecret}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return rr
}

func soa(t *testing.T, serial int) dns.RR {
	return mustRR(t, "sec.test. 300 IN SOA ns1.sec.test. h.sec.test. "+strconv.Itoa(serial)+" 60 30 600 60")
}

// zoneV returns version n of the test zone: its records differ in www's address.
func zoneV(t *testing.T, n int) []dns.RR {
	return []dns.RR{
		soa(t, n),
		mustRR(t, "sec.test. 300 IN NS ns1.sec.test."),
		mustRR(t, "ns1.sec.test. 300 IN A 192.0.2.1"),
		mustRR(t, "www.sec.test. 300 IN A 192.0.2."+strconv.Itoa(100+n)),
		mustRR(t, "sec.test. 300 IN RRSIG SOA 13 2 300 20300101000000 20200101000000 1 sec.test. AAAA"),
	}
}

// primary is a fake primary on loopback TCP. answer builds the records of a transfer answer,
// each slice one message; cut closes the connection after the first message.
type primary struct {
	t      *testing.T
	addr   string
	mu     sync.Mutex
	answer func(q *dns.Msg) [][]dns.RR
	cut    bool           // cut AXFR answers short
	asked  []uint16       // qtypes asked, in order
	rcode  map[uint16]int // an error rcode to answer a qtype with instead
}

func newPrimary(t *testing.T, secret string) *primary {
	p := &primary{t: t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	srv := &dns.Server{Listener: ln, Handler: p, TsigSecret: map[string]string{"xfr-key.": secret}}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return p
}

func (p *primary) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	p.mu.Lock()
	p.asked = append(p.asked, r.Question[0].Qtype)
	answer, cut, rcode := p.answer, p.cut, p.rcode[r.Question[0].Qtype]
	p.mu.Unlock()
	t := r.IsTsig()
	if t == nil || w.TsigStatus() != nil {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNotAuth)
		w.WriteMsg(m)
		return
	}
	if rcode != dns.RcodeSuccess {
		m := new(dns.Msg)
		m.SetRcode(r, rcode)
		m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		w.WriteMsg(m)
		return
	}
	for i, rrs := range answer(r) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = rrs
		m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		if err := w.WriteMsg(m); err != nil {
			return
		}
		w.TsigTimersOnly(true)
		if cut && i == 0 && r.Question[0].Qtype == dns.TypeAXFR {
			break
		}
	}
	// One answer per connection, so that an answer without its closing SOA ends at once.
	w.Close()
}

func (p *primary) set(cut bool, answer func(q *dns.Msg) [][]dns.RR) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut, p.answer, p.asked, p.rcode = cut, answer, nil, nil
}

func (p *primary) qtypes() []uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint16(nil), p.asked...)
}

// axfr answers every request with the whole zone, in two messages.
func axfr(rrs []dns.RR) func(*dns.Msg) [][]dns.RR {
	return func(*dns.Msg) [][]dns.RR {
		return [][]dns.RR{rrs[:2], append(append([]dns.RR(nil), rrs[2:]...), rrs[0])}
	}
}

func newSecondary(t *testing.T, p *primary, key *Key, dir string, now func() time.Time) *Secondary {
	t.Helper()
	s, err := NewSecondary(SecondaryConfig{
		Origin:    "sec.test.",
		Primaries: []string{p.addr},
		Key:       key,
		Path:      filepath.Join(dir, "sec.test.zone"),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:       now,
		Timeout:   5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// www returns the address the served snapshot gives for www.sec.test, or "" when the zone is
// unavailable.
func www(t *testing.T, s *Secondary) string {
	t.Helper()
	z, err := s.LoadZone(zones.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !z.Available() {
		return ""
	}
	res := z.Lookup("www.sec.test.", dns.TypeA)
	if len(res.Answer) != 1 {
		t.Fatalf("www.sec.test. A: %v", res.Answer)
	}
	return res.Answer[0].(*dns.A).A.String()
}

func TestAXFRThenIXFR(t *testing.T) {
	t.Parallel()
	p := newPrimary(t, testSecret)
	p.set(false, axfr(zoneV(t, 1)))
	s := newSecondary(t, p, testKey, t.TempDir(), nil)
	if got := www(t, s); got != "" {
		t.Fatalf("before any transfer the zone is served: %s", got)
	}
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := www(t, s); got != "192.0.2.101" {
		t.Fatalf("after AXFR: www = %q", got)
	}
	z, _ := s.LoadZone(zones.Options{})
	if z.Dropped() != 1 {
		t.Errorf("the RRSIG that came in the transfer was not dropped: Dropped() = %d", z.Dropped())
	}

	// An incremental answer: 1 -> 2 -> 3, in three messages.
	v1, v2, v3 := zoneV(t, 1), zoneV(t, 2), zoneV(t, 3)
	p.set(false, func(q *dns.Msg) [][]dns.RR {
		if got := q.Ns[0].(*dns.SOA).Serial; got != 1 {
			t.Errorf("IXFR asked from serial %d, want 1", got)
		}
		return [][]dns.RR{
			{v3[0], v1[0], v1[3], v2[0]},
			{v2[3], v2[0], v2[3], v3[0]},
			{v3[3], v3[0]},
		}
	})
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := www(t, s); got != "192.0.2.103" {
		t.Fatalf("after IXFR: www = %q", got)
	}
	if q := p.qtypes(); len(q) != 1 || q[0] != dns.TypeIXFR {
		t.Fatalf("asked %v, want one IXFR", q)
	}

	// Up to date: a lone SOA with the serial held.
	p.set(false, func(*dns.Msg) [][]dns.RR { return [][]dns.RR{{v3[0]}} })
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if serial, _ := s.Serial(); serial != 3 {
		t.Fatalf("serial %d after an up-to-date check", serial)
	}
}

// TestBadTransfersKeepTheCopy: a wrong TSIG, a cut-off AXFR, an IXFR that starts at another
// serial (with the AXFR fallback broken too), a serial going backwards and data that does not
// load each leave the copy held serving.
func TestBadTransfersKeepTheCopy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := newPrimary(t, testSecret)
	p.set(false, axfr(zoneV(t, 5)))
	s := newSecondary(t, p, testKey, dir, nil)
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	v6 := zoneV(t, 6)
	cases := []struct {
		name   string
		key    *Key
		cut    bool
		answer func(*dns.Msg) [][]dns.RR
		want   string // in the error
		asked  []uint16
	}{
		{
			name:   "wrong TSIG secret",
			key:    &Key{Name: "xfr-key.", Algorithm: dns.HmacSHA256, Secret: base64.StdEncoding.EncodeToString([]byte("not the secret"))},
			answer: axfr(v6),
			want:   "TSIG check of the answer failed",
		},
		{
			name:   "no TSIG",
			answer: axfr(v6),
			want:   "rcode: 9", // NOTAUTH
		},
		{
			name: "AXFR cut off after its first message",
			key:  testKey,
			cut:  true,
			answer: func(q *dns.Msg) [][]dns.RR {
				if q.Question[0].Qtype == dns.TypeIXFR {
					// A difference from another serial: not applicable, go AXFR.
					return [][]dns.RR{{v6[0], soa(t, 4), v6[3], v6[0], v6[3], v6[0]}}
				}
				return axfr(v6)(q)
			},
			want:  "AXFR",
			asked: []uint16{dns.TypeIXFR, dns.TypeAXFR},
		},
		{
			name: "IXFR starting at another serial, AXFR without its closing SOA",
			key:  testKey,
			answer: func(q *dns.Msg) [][]dns.RR {
				if q.Question[0].Qtype == dns.TypeIXFR {
					return [][]dns.RR{{v6[0], soa(t, 4), v6[3], v6[0], v6[3], v6[0]}}
				}
				return [][]dns.RR{v6}
			},
			want:  "AXFR",
			asked: []uint16{dns.TypeIXFR, dns.TypeAXFR},
		},
		{
			name: "IXFR deleting a record not held, AXFR refused",
			key:  testKey,
			answer: func(q *dns.Msg) [][]dns.RR {
				if q.Question[0].Qtype == dns.TypeIXFR {
					return [][]dns.RR{{v6[0], soa(t, 5), mustRR(t, "nope.sec.test. 300 IN A 192.0.2.9"), v6[0], v6[0]}}
				}
				return nil
			},
			want:  "AXFR",
			asked: []uint16{dns.TypeIXFR, dns.TypeAXFR},
		},
		{
			name:   "serial going backwards",
			key:    testKey,
			answer: axfr(zoneV(t, 4)),
			want:   "backwards",
		},
		{
			name:   "zone that does not load (CNAME beside other data)",
			key:    testKey,
			answer: axfr(append(zoneV(t, 7), mustRR(t, "www.sec.test. 300 IN CNAME ns1.sec.test."))),
			want:   "does not load",
		},
	}
	for _, tc := range cases {
		p.set(tc.cut, tc.answer)
		s.cfg.Key = tc.key
		err := s.Refresh(context.Background())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
		if got := www(t, s); got != "192.0.2.105" {
			t.Errorf("%s: www = %q, want the copy held (192.0.2.105)", tc.name, got)
		}
		if tc.asked != nil {
			if got := p.qtypes(); len(got) != len(tc.asked) || got[0] != tc.asked[0] || got[len(got)-1] != tc.asked[len(tc.asked)-1] {
				t.Errorf("%s: asked %v, want %v", tc.name, got, tc.asked)
			}
		}
	}
	// The saved copy is still version 5.
	rrs, _, err := loadCopy(filepath.Join(dir, "sec.test.zone"), "sec.test.")
	if err != nil || findSOA(rrs).Serial != 5 {
		t.Fatalf("saved copy: %v, %v", rrs, err)
	}
}

// TestRestartAndExpire: the copy survives a restart with the primary gone, is served until the
// SOA expire time (600 s) after the last successful refresh, and then no more.
func TestRestartAndExpire(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	p := newPrimary(t, testSecret)
	p.set(false, axfr(zoneV(t, 9)))
	s := newSecondary(t, p, testKey, dir, clock)
	if err := s.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "sec.test.zone"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved copy: %v, mode %v", err, fi.Mode())
	}

	// "Restart" 5 minutes later, primary unreachable.
	now = t0.Add(5 * time.Minute)
	gone := &primary{addr: "127.0.0.1:1"}
	s2 := newSecondary(t, gone, testKey, dir, clock)
	if got := www(t, s2); got != "192.0.2.109" {
		t.Fatalf("after restart: www = %q", got)
	}
	if err := s2.Refresh(context.Background()); err == nil {
		t.Fatal("refresh from a dead primary succeeded")
	}
	now = t0.Add(599 * time.Second)
	s2.expire(now)
	if got := www(t, s2); got != "192.0.2.109" {
		t.Fatalf("a second before expire: www = %q", got)
	}
	now = t0.Add(600 * time.Second)
	s2.expire(now)
	if got := www(t, s2); got != "" {
		t.Fatalf("at expire the zone is still served: %s", got)
	}
	// A restart after expire does not serve it either.
	s3 := newSecondary(t, gone, testKey, dir, clock)
	if got := www(t, s3); got != "" {
		t.Fatalf("restart after expire serves: %s", got)
	}
	// A successful refresh brings it back.
	s4 := newSecondary(t, p, testKey, dir, clock)
	if err := s4.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := www(t, s4); got != "192.0.2.109" {
		t.Fatalf("after a refresh past expire: www = %q", got)
	}
}

func TestSerialArithmetic(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b uint32
		want int
	}{
		{1, 1, 0}, {1, 2, -1}, {2, 1, 1},
		{0xFFFFFFFF, 0, -1}, {0, 0xFFFFFFFF, 1},
		{0xFFFFFF00, 5, -1}, {5, 0xFFFFFF00, 1},
		{0, 1 << 31, 1}, {1 << 31, 0, 1}, // undefined pair: never an upgrade
		{100, 100 + (1 << 31) - 1, -1},
	} {
		if got := serialCmp(c.a, c.b); got != c.want {
			t.Errorf("serialCmp(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestLoadKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(testSecret+"\n"), 0o600)
	k, err := LoadKey("Xfr-Key", "hmac-sha256", good)
	if err != nil || k.Name != "xfr-key." || k.Algorithm != dns.HmacSHA256 || k.Secret != testSecret {
		t.Fatalf("LoadKey = %+v, %v", k, err)
	}
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte(testSecret), 0o644)
	if _, err := LoadKey("k.", "hmac-sha256", open); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable secret: %v", err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not base64 !!! s3cr3t"), 0o600)
	if _, err := LoadKey("k.", "hmac-sha256", bad); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("bad secret: %v (must fail and not quote it)", err)
	}
	if _, err := LoadKey("k.", "hmac-sha999", good); err == nil {
		t.Error("unknown algorithm accepted")
	}
	if _, err := LoadKey("k.", "hmac-sha256", filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestRunLogsWhatServes: a refresh that fails before any copy exists says that nothing is
// served, not that a copy still is, and the retries back off (doubling from MinInterval).
func TestRunLogsWhatServes(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	var log syncbuf.Buffer
	s, err := NewSecondary(SecondaryConfig{Origin: "sec.test.", Primaries: []string{dead},
		Path: filepath.Join(t.TempDir(), "sec.test.zone"), Logger: slog.New(slog.NewTextHandler(&log, nil)),
		Timeout: time.Second, MinInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(log.String(), "zone refresh failed") < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	out := log.String()
	if !strings.Contains(out, "no copy to serve") || strings.Contains(out, "still serving") {
		t.Errorf("log:\n%s", out)
	}
	a, b, c := strings.Index(out, "retry_in=50ms"), strings.Index(out, "retry_in=100ms"), strings.Index(out, "retry_in=200ms")
	if a < 0 || b < a || c < b {
		t.Errorf("retries do not back off 50, 100, 200 ms:\n%s", out)
	}
}

// TestIXFRNotServedFallsBack: a primary that answers IXFR with NOTIMP or FORMERR (it has no
// IXFR at all) is asked for an AXFR instead; one that REFUSES is not asked again.
func TestIXFRNotServedFallsBack(t *testing.T) {
	t.Parallel()
	for i, c := range []struct {
		rcode    int
		fallback bool
	}{{dns.RcodeNotImplemented, true}, {dns.RcodeFormatError, true}, {dns.RcodeRefused, false}} {
		t.Run(dns.RcodeToString[c.rcode], func(t *testing.T) {
			t.Parallel()
			p := newPrimary(t, testSecret)
			p.set(false, axfr(zoneV(t, 1)))
			s := newSecondary(t, p, testKey, t.TempDir(), nil)
			if err := s.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			p.set(false, axfr(zoneV(t, 2+i)))
			p.mu.Lock()
			p.rcode = map[uint16]int{dns.TypeIXFR: c.rcode}
			p.mu.Unlock()
			err := s.Refresh(context.Background())
			asked := p.qtypes()
			switch {
			case c.fallback && (err != nil || www(t, s) != "192.0.2.10"+strconv.Itoa(2+i) || len(asked) != 2 || asked[1] != dns.TypeAXFR):
				t.Errorf("IXFR answered %s: err %v, www %s, asked %v; want the AXFR's copy", dns.RcodeToString[c.rcode], err, www(t, s), asked)
			case !c.fallback && (err == nil || www(t, s) != "192.0.2.101" || len(asked) != 1):
				t.Errorf("IXFR REFUSED: err %v, www %s, asked %v; want an error, the copy kept, no AXFR", err, www(t, s), asked)
			}
		})
	}
}
