package rrl

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const sec = int64(time.Second)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// run sends n responses of kind to client at now and counts the actions.
func run(l *Limiter, client string, kind Kind, now int64, n int) (send, drop, slip int) {
	for range n {
		switch l.Check(addr(client), kind, now) {
		case Send:
			send++
		case Drop:
			drop++
		case Slip:
			slip++
		}
	}
	return
}

func TestRateAndSlip(t *testing.T) {
	t.Parallel()
	l := New(Config{ResponsesPerSecond: 10, Slip: 2})
	t0 := int64(1_000) * sec
	if s, d, sl := run(l, "192.0.2.1", Answer, t0, 30); s != 10 || d != 10 || sl != 10 {
		t.Fatalf("30 at once: sent %d dropped %d slipped %d, want 10/10/10", s, d, sl)
	}
	// The same /24 shares the bucket; another /24 and another kind have their own.
	if s, _, _ := run(l, "192.0.2.200", Answer, t0, 5); s != 0 {
		t.Errorf("same /24: %d sent, want 0", s)
	}
	if s, _, _ := run(l, "192.0.3.1", Answer, t0, 10); s != 10 {
		t.Errorf("other /24: %d sent, want 10", s)
	}
	if s, _, _ := run(l, "192.0.2.1", Denial, t0, 10); s != 10 {
		t.Errorf("other kind: %d sent, want 10", s)
	}
	// Half a second refills half the bucket; a long pause fills it, no more.
	if s, _, _ := run(l, "192.0.2.1", Answer, t0+sec/2, 10); s != 5 {
		t.Errorf("after 0.5 s: %d sent, want 5", s)
	}
	if s, _, _ := run(l, "192.0.2.1", Answer, t0+100*sec, 30); s != 10 {
		t.Errorf("after 100 s: %d sent, want 10 (one second of burst)", s)
	}
	sent, dropped, slipped := l.Counts(Answer)
	if sent != 35 || dropped+slipped != 50 {
		t.Errorf("counts: sent %d dropped %d slipped %d", sent, dropped, slipped)
	}
}

func TestIPv6Prefix(t *testing.T) {
	t.Parallel()
	l := New(Config{ResponsesPerSecond: 4})
	if s, _, _ := run(l, "2001:db8:0:ff::1", Answer, sec, 4); s != 4 {
		t.Fatal(s)
	}
	// Same /56 (2001:db8:0:00xx::/56): limited.
	if s, _, _ := run(l, "2001:db8:0:1::9", Answer, sec, 4); s != 0 {
		t.Errorf("same /56: %d sent", s)
	}
	if s, _, _ := run(l, "2001:db8:0:100::1", Answer, sec, 4); s != 4 {
		t.Errorf("other /56: %d sent", s)
	}
	// An IPv4-mapped address is its IPv4 network.
	run(l, "198.51.100.7", Answer, sec, 4)
	if s, _, _ := run(l, "::ffff:198.51.100.8", Answer, sec, 4); s != 0 {
		t.Errorf("mapped address of the same /24: %d sent", s)
	}
}

func TestSlipSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		slip             int
		wantDrop, wantSl int
	}{
		{1, 0, 12},
		{-1, 12, 0},
		{3, 8, 4},
	} {
		l := New(Config{ResponsesPerSecond: 3, Slip: tc.slip})
		if s, d, sl := run(l, "203.0.113.1", Error, sec, 15); s != 3 || d != tc.wantDrop || sl != tc.wantSl {
			t.Errorf("slip %d: sent %d dropped %d slipped %d, want 3/%d/%d", tc.slip, s, d, sl, tc.wantDrop, tc.wantSl)
		}
	}
}

// TestCollisionsNeverLoosen: with a table of one bucket per shard, networks share buckets, and
// a flood from many networks still gets no more than the rate through for any one of them.
func TestCollisionsNeverLoosen(t *testing.T) {
	t.Parallel()
	l := New(Config{ResponsesPerSecond: 5, Buckets: shards})
	sent := 0
	for i := range 256 {
		for range 10 {
			if l.Check(netip.AddrFrom4([4]byte{10, byte(i), 0, 1}), Answer, sec) == Send {
				sent++
			}
		}
	}
	if sent > 256*5 {
		t.Fatalf("%d sent, more than 5 per network", sent)
	}
	// 256 networks over 64 slots leave about one slot empty (a seeded hash); far fewer
	// answers than 40 full buckets would mean buckets that never refill.
	if sent < 40*5 {
		t.Fatalf("%d sent, fewer than 40 full buckets", sent)
	}
}

func TestCheckAllocatesNothing(t *testing.T) {
	l := New(Config{})
	a := addr("192.0.2.1")
	now := sec
	if n := testing.AllocsPerRun(1000, func() { now++; l.Check(a, Answer, now) }); n != 0 {
		t.Fatalf("%v allocations per Check", n)
	}
}

func pack(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	q := new(dns.Msg)
	q.SetQuestion("www.example.test.", dns.TypeA)
	resp := func(rcode int, aa bool, an, ns []dns.RR) []byte {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Rcode, m.Authoritative, m.Answer, m.Ns = rcode, aa, an, ns
		return pack(t, m)
	}
	a := []dns.RR{rr(t, "www.example.test. 60 IN A 192.0.2.1")}
	soa := []dns.RR{rr(t, "example.test. 60 IN SOA ns. h. 1 2 3 4 5")}
	ns := []dns.RR{rr(t, "sub.example.test. 60 IN NS ns.example.net.")}
	for _, tc := range []struct {
		name string
		resp []byte
		want Kind
	}{
		{"answer", resp(dns.RcodeSuccess, true, a, nil), Answer},
		{"nxdomain", resp(dns.RcodeNameError, true, nil, soa), Denial},
		{"nodata", resp(dns.RcodeSuccess, true, nil, soa), Denial},
		{"referral", resp(dns.RcodeSuccess, false, nil, ns), Referral},
		{"refused", resp(dns.RcodeRefused, false, nil, nil), Error},
		{"servfail", resp(dns.RcodeServerFailure, false, nil, nil), Error},
		{"short", []byte{1, 2, 3}, Error},
	} {
		if got := KindOf(tc.resp); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	q := new(dns.Msg)
	q.SetQuestion("www.example.test.", dns.TypeA)
	q.SetEdns0(1232, true)
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = true
	m.Answer = []dns.RR{rr(t, "www.example.test. 60 IN A 192.0.2.1"), rr(t, "www.example.test. 60 IN A 192.0.2.2")}
	m.Extra = q.Extra
	m.Compress = true
	b := pack(t, m)
	cut := Truncate(b)
	var got dns.Msg
	if err := got.Unpack(cut); err != nil {
		t.Fatal(err)
	}
	if !got.Truncated || got.Id != q.Id || len(got.Question) != 1 || got.Question[0] != q.Question[0] ||
		len(got.Answer)+len(got.Ns)+len(got.Extra) != 0 || !got.Authoritative {
		t.Fatalf("truncated: %v", &got)
	}
	if Truncate([]byte{1, 2}) != nil {
		t.Error("a short packet was cut")
	}
	bad := append([]byte(nil), b[:12]...)
	bad = append(bad, 0x40, 'x')
	if Truncate(bad) != nil {
		t.Error("a bad name was cut")
	}
}
