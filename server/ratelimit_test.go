package server

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signetdns/signet/rrl"
)

// udpBurst sends n queries for name over one UDP socket, waiting up to wait for each answer,
// and counts full answers, truncated (slipped) answers and silences.
func udpBurst(t *testing.T, addr, name string, qtype uint16, n int, wait time.Duration) (full, tc, silent int) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4096)
	for i := range n {
		m := query(name, qtype, true)
		m.Id = uint16(i + 1)
		b, _ := m.Pack()
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(wait))
		k, err := c.Read(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			silent++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		var r dns.Msg
		if err := r.Unpack(buf[:k]); err != nil || r.Id != m.Id {
			t.Fatalf("answer %d: %v (id %d)", i, err, r.Id)
		}
		if r.Truncated {
			if len(r.Answer) != 0 {
				t.Fatalf("a slipped answer carries records: %v", &r)
			}
			tc++
		} else {
			full++
		}
	}
	return
}

// TestRRL: over the real sockets, a client network gets the configured rate of each response
// kind over UDP, both from the packet cache and from the full path; every second limited
// answer slips out truncated, the others are dropped and counted; TCP is never limited.
func TestRRL(t *testing.T) {
	t.Parallel()
	// The server's readers call Now concurrently with the test moving the clock.
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	reg := prometheus.NewRegistry()
	lim := rrl.New(rrl.Config{ResponsesPerSecond: 5, Slip: 2})
	cfg := Config{Listen: []string{"127.0.0.1:0"}, RRL: lim, Now: func() time.Time { return time.Unix(0, now.Load()) }, Logger: quietLogger()}
	zs := NewZoneSet(cfg.Logger, nil)
	for _, f := range exampleZones {
		if err := zs.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHandler(zs, nil, nil, cfg, NewMetrics(reg))
	srv := New(h, cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	udpAddr, tcpAddr := srv.UDPAddrs()[0].String(), srv.TCPAddrs()[0].String()

	full, tc, silent := udpBurst(t, udpAddr, "www.example.test.", dns.TypeA, 25, 50*time.Millisecond)
	if full != 5 || tc != 10 || silent != 10 {
		t.Errorf("answers: %d full, %d truncated, %d silent; want 5, 10, 10", full, tc, silent)
	}
	// Another kind has its own bucket: denials for missing names.
	if full, _, _ := udpBurst(t, udpAddr, "nope.example.test.", dns.TypeA, 5, 200*time.Millisecond); full != 5 {
		t.Errorf("denials: %d full answers, want 5", full)
	}
	for i := range 20 {
		if r := exchange(t, "tcp", tcpAddr, query("www.example.test.", dns.TypeA, true)); r.Truncated || len(r.Answer) == 0 {
			t.Fatalf("TCP query %d limited: %v", i, r)
		}
	}
	if got := testutil.ToFloat64(counterOf(t, reg, "signet_rrl_limited_total", "answer", "dropped")); got != 10 {
		t.Errorf("dropped answers counted: %v, want 10", got)
	}
	if got := testutil.ToFloat64(counterOf(t, reg, "signet_rrl_limited_total", "answer", "slipped")); got != 10 {
		t.Errorf("slipped answers counted: %v, want 10", got)
	}
	// A second later the bucket has refilled.
	now.Add(int64(time.Second))
	if full, _, _ := udpBurst(t, udpAddr, "www.example.test.", dns.TypeA, 5, 200*time.Millisecond); full != 5 {
		t.Errorf("after a second: %d full answers, want 5", full)
	}
}

// counterOf finds the registered counter with the kind and action labels.
func counterOf(t *testing.T, reg *prometheus.Registry, name, kind, action string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var k, a string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "kind":
					k = lp.GetValue()
				case "action":
					a = lp.GetValue()
				}
			}
			if k == kind && a == action {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, func() float64 { return m.GetCounter().GetValue() })
			}
		}
	}
	t.Fatalf("no %s{kind=%s,action=%s}", name, kind, action)
	return nil
}

// BenchmarkCachedWithRRL is a packet-cache hit followed by the rate-limiting step, as the UDP
// readers run them: neither may allocate.
func BenchmarkCachedWithRRL(b *testing.B) {
	cfg := Config{RRL: rrl.New(rrl.Config{ResponsesPerSecond: 1 << 30}), Logger: quietLogger()}
	zs := NewZoneSet(cfg.Logger, nil)
	for _, f := range exampleZones {
		if err := zs.Add(f); err != nil {
			b.Fatal(err)
		}
	}
	h := NewHandler(zs, nil, nil, cfg, NewMetrics(prometheus.NewRegistry()))
	in, _ := query("www.example.test.", dns.TypeA, true).Pack()
	out := make([]byte, 0, 4096)
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 5353}
	if h.ServeUDP(in, out) == nil || h.cachedUDP(in, out, from) == nil {
		b.Fatal("no cached answer")
	}
	b.ReportAllocs()
	for b.Loop() {
		if h.limitUDP(from, in, h.cachedUDP(in, out, from)) == nil {
			b.Fatal("limited")
		}
	}
}
