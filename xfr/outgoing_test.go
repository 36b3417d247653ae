package xfr

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signetdns/signet/internal/syncbuf"
)

// serveService runs svc's TCP side on loopback, as the server does.
func serveService(t *testing.T, svc *Service) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(svc.ServeTCP), TsigSecret: svc.TsigSecrets()}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// TestOutgoingToSecondary: a Secondary of this package fetches from an Outgoing: AXFR first,
// then IXFR over two versions from the history, then the lone SOA when up to date; a serial
// older than the history gets the whole zone; the ACL refuses a wrong key and an address that
// is not a secondary's.
func TestOutgoingToSecondary(t *testing.T) {
	t.Parallel()
	var outLog syncbuf.Buffer
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewOutgoing(OutgoingConfig{Origin: "sec.test.", Key: testKey, History: 2,
		Logger: slog.New(slog.NewTextHandler(&outLog, nil)), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveService(t, NewService(slog.New(slog.NewTextHandler(&outLog, nil)), metrics, nil, []*Outgoing{out}))
	p := &primary{addr: addr}
	dir := t.TempDir()
	sec := newSecondary(t, p, testKey, dir, nil)
	sec.cfg.Metrics = metrics

	publish := func(n int) {
		t.Helper()
		v := zoneV(t, n)[:4] // without the RRSIG: an outgoing version is served as given
		if n%2 == 0 {
			v = append(v, mustRR(t, "even.sec.test. 300 IN TXT \"v"+string(rune('0'+n))+"\""))
		}
		if _, err := out.Publish(v); err != nil {
			t.Fatal(err)
		}
	}
	refresh := func(want string, kind string) {
		t.Helper()
		if err := sec.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := www(t, sec); got != want {
			t.Fatalf("www = %q, want %q", got, want)
		}
		if !strings.Contains(outLog.String(), "kind=\""+kind) && !strings.Contains(outLog.String(), "kind="+kind) {
			t.Fatalf("no %s served; log:\n%s", kind, outLog.String())
		}
	}
	publish(1)
	refresh("192.0.2.101", "AXFR")
	publish(2)
	publish(3)
	refresh("192.0.2.103", "IXFR")
	if strings.Count(outLog.String(), "kind=IXFR") != 1 {
		t.Fatalf("want one incremental IXFR:\n%s", outLog.String())
	}
	refresh("192.0.2.103", "\"IXFR (up to date)")

	// Three versions later the history (2) no longer reaches serial 3: AXFR-style answer.
	publish(4)
	publish(5)
	publish(6)
	refresh("192.0.2.106", "\"AXFR-style IXFR (serial 3")

	// A wrong key, and a secondary list without this address: REFUSED, copy kept.
	sec.cfg.Key = &Key{Name: "other-key.", Algorithm: dns.HmacSHA256, Secret: testSecret}
	publish(7)
	if err := sec.Refresh(context.Background()); err == nil || www(t, sec) != "192.0.2.106" {
		t.Fatalf("transfer with another key: err %v, www %s", err, www(t, sec))
	}
	out.cfg.Secondaries = []string{"192.0.2.1:53"}
	sec.cfg.Key = testKey
	if err := sec.Refresh(context.Background()); err == nil || www(t, sec) != "192.0.2.106" {
		t.Fatalf("transfer from an address not listed: err %v", err)
	}
	for _, why := range []string{"TSIG with another key", "not a configured secondary"} {
		if !strings.Contains(outLog.String(), why) {
			t.Errorf("no refusal logged for %q:\n%s", why, outLog.String())
		}
	}
	for _, c := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{metrics.out.WithLabelValues("sec.test.", "axfr"), 2}, // the first, and the AXFR-style IXFR
		{metrics.out.WithLabelValues("sec.test.", "ixfr"), 1},
		{metrics.out.WithLabelValues("sec.test.", "uptodate"), 1},
		{metrics.out.WithLabelValues("sec.test.", "refused"), 2},
		{metrics.refreshes.WithLabelValues("sec.test.", "updated"), 3},
		{metrics.refreshes.WithLabelValues("sec.test.", "unchanged"), 1},
		{metrics.refreshes.WithLabelValues("sec.test.", "failed"), 2},
		{metrics.inSerial.WithLabelValues("sec.test."), 6},
		{metrics.outSerial.WithLabelValues("sec.test."), 7},
	} {
		// The server counts a transfer after its last message, which the client may have read
		// already: wait a little for the count.
		got := testutil.ToFloat64(c.c)
		for deadline := time.Now().Add(2 * time.Second); got != c.want && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			got = testutil.ToFloat64(c.c)
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.c.(prometheus.Metric).Desc(), got, c.want)
		}
	}
}

// TestNotifyOut: Publish sends a signed NOTIFY to each secondary and retries until answered.
func TestNotifyOut(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	out, err := NewOutgoing(OutgoingConfig{Origin: "sec.test.", Secondaries: []string{pc.LocalAddr().String()},
		Key: testKey, NotifyTimeout: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(new(syncbuf.Buffer), nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := out.Publish(zoneV(t, 42)[:4]); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var first, second *dns.Msg
	for i := 0; i < 2; i++ { // ignore the first one: the retry must come
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("NOTIFY %d: %v", i+1, err)
		}
		m := new(dns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatal(err)
		}
		if err := dns.TsigVerify(buf[:n], testSecret, "", false); err != nil {
			t.Fatalf("NOTIFY not signed with the key: %v", err)
		}
		if i == 0 {
			first = m
			continue
		}
		second = m
		r := new(dns.Msg)
		r.SetReply(m)
		b, _ := r.Pack()
		pc.WriteTo(b, from)
	}
	if first.Opcode != dns.OpcodeNotify || first.Question[0].Name != "sec.test." || second.Id != first.Id {
		t.Fatalf("NOTIFY %v / retry %v", first, second)
	}
	if soa, ok := first.Answer[0].(*dns.SOA); !ok || soa.Serial != 42 {
		t.Fatalf("NOTIFY answer section %v", first.Answer)
	}
}

// TestIXFROverUDP: an IXFR over UDP gets the current SOA alone (RFC 1995 §2), signed with the
// request's key, whether the client is behind (it then retries over TCP) or current; the ACL
// refuses it without the key or from an address not listed; a zone not offered is left to the
// server.
func TestIXFROverUDP(t *testing.T) {
	t.Parallel()
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	out, err := NewOutgoing(OutgoingConfig{Origin: "sec.test.", Key: testKey, Secondaries: []string{"127.0.0.1:9"}, NotifyTries: 1, NotifyTimeout: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Metrics: metrics})
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(slog.New(slog.DiscardHandler), metrics, nil, []*Outgoing{out})
	for n := 1; n <= 3; n++ {
		if _, err := out.Publish(zoneV(t, n)[:4]); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(out.Close)
	local := netip.MustParseAddr("127.0.0.1")
	ask := func(zone string, serial uint32, key *Key, from netip.Addr) (*dns.Msg, bool) {
		t.Helper()
		q := new(dns.Msg)
		q.SetIxfr(zone, serial, "ns.", "h.")
		var raw []byte
		mac := ""
		if key != nil {
			q.SetTsig(key.Name, key.Algorithm, 300, time.Now().Unix())
			raw, mac, err = dns.TsigGenerate(q, key.Secret, "", false)
		} else {
			raw, err = q.Pack()
		}
		if err != nil {
			t.Fatal(err)
		}
		req := new(dns.Msg)
		if err := req.Unpack(raw); err != nil {
			t.Fatal(err)
		}
		resp, ok := svc.IXFRUDP(raw, req, from)
		if !ok {
			return nil, false
		}
		r := new(dns.Msg)
		if err := r.Unpack(resp); err != nil {
			t.Fatal(err)
		}
		if key != nil && r.Rcode == dns.RcodeSuccess {
			if err := dns.TsigVerify(resp, key.Secret, mac, false); err != nil {
				t.Errorf("response MAC: %v", err)
			}
		}
		return r, true
	}
	for _, have := range []uint32{1, 3} {
		r, ok := ask("sec.test.", have, testKey, local)
		if !ok || r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Serial != 3 {
			t.Errorf("IXFR from serial %d over UDP: %v", have, r)
		}
	}
	if r, _ := ask("sec.test.", 1, nil, local); r == nil || r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("without the key: %v", r)
	}
	if r, _ := ask("sec.test.", 1, testKey, netip.MustParseAddr("127.0.0.2")); r == nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("from an address not listed: %v", r)
	}
	if _, ok := ask("other.test.", 1, testKey, local); ok {
		t.Error("a zone not offered was answered")
	}
	for outcome, want := range map[string]float64{"udp_soa": 1, "uptodate": 1, "refused": 2} {
		if got := testutil.ToFloat64(metrics.out.WithLabelValues("sec.test.", outcome)); got != want {
			t.Errorf("%s = %v, want %v", outcome, got, want)
		}
	}
}

// TestRefusalsCarryEDE: a transfer refused by the ACL says "Prohibited" (EDE 18), one for a
// zone not offered "Not Supported" (EDE 21), over TCP and, for IXFR, over UDP; a request
// without EDNS gets no OPT.
func TestRefusalsCarryEDE(t *testing.T) {
	t.Parallel()
	out, err := NewOutgoing(OutgoingConfig{Origin: "sec.test.", Key: testKey, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := out.Publish(zoneV(t, 1)[:4]); err != nil {
		t.Fatal(err)
	}
	svc := NewService(slog.New(slog.DiscardHandler), nil, nil, []*Outgoing{out})
	addr := serveService(t, svc)
	edeOf := func(r *dns.Msg) int {
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_EDE); ok {
					return int(e.InfoCode)
				}
			}
		}
		return -1
	}
	for _, c := range []struct {
		zone string
		edns bool
		want int
	}{
		{"sec.test.", true, int(dns.ExtendedErrorCodeProhibited)},
		{"other.test.", true, int(dns.ExtendedErrorCodeNotSupported)},
		{"sec.test.", false, -1},
	} {
		q := new(dns.Msg)
		q.SetAxfr(c.zone)
		if c.edns {
			q.SetEdns0(1232, false)
		}
		r, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(q, addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeRefused || edeOf(r) != c.want || (!c.edns && r.IsEdns0() != nil) {
			t.Errorf("AXFR %s edns=%v over TCP: %s EDE %d, want REFUSED EDE %d\n%v", c.zone, c.edns, dns.RcodeToString[r.Rcode], edeOf(r), c.want, r)
		}
	}
	q := new(dns.Msg)
	q.SetIxfr("sec.test.", 1, "ns.", "h.")
	q.SetEdns0(1232, false)
	raw, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := svc.IXFRUDP(raw, q, netip.MustParseAddr("127.0.0.1"))
	r := new(dns.Msg)
	if !ok || r.Unpack(resp) != nil || r.Rcode != dns.RcodeRefused || edeOf(r) != int(dns.ExtendedErrorCodeProhibited) {
		t.Errorf("IXFR over UDP without the key: %v", r)
	}
}
