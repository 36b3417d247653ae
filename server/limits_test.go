package server

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signetdns/signet/signer"
)

// countingSigner records the most signings in flight at once; each takes a while.
type countingSigner struct {
	now, peak atomic.Int32
}

func (c *countingSigner) Sign(*dns.Msg, *signer.Input, *signer.KeyRing, time.Time) error {
	n := c.now.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	c.now.Add(-1)
	return nil
}

// TestSigningInFlightBounded: twenty TCP clients asking at once never have more than
// MaxSigning responses signed at the same time, and all are answered.
func TestSigningInFlightBounded(t *testing.T) {
	t.Parallel()
	cs := &countingSigner{}
	cfg := Config{Listen: []string{"127.0.0.1:0"}, MaxSigning: 2, Logger: quietLogger()}
	zs := NewZoneSet(cfg.Logger, nil)
	for _, f := range exampleZones {
		if err := zs.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	srv := New(NewHandler(zs, oneRing{testRing(t)}, cs, cfg, nil), cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	addr := srv.TCPAddrs()[0].String()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second}
			r, _, err := c.Exchange(query("www.example.test.", dns.TypeA, true), addr)
			if err == nil && len(r.Answer) == 0 {
				err = errNoAnswer
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p := cs.peak.Load(); p < 1 || p > 2 {
		t.Fatalf("%d signings in flight at once, want at most 2", p)
	}
}

var errNoAnswer = &net.OpError{Op: "answer", Err: net.UnknownNetworkError("no answer")}

// TestTCPPerClientCap: a client holding its cap of connections gets the next one closed at
// once, and counted; another address is served; a closed connection frees its slot.
func TestTCPPerClientCap(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	cfg := Config{Listen: []string{"127.0.0.1:0"}, MaxTCPConnsPerClient: 2, TCPIdleTimeout: 5 * time.Second, TCPReadTimeout: 5 * time.Second, Logger: quietLogger()}
	zs := NewZoneSet(cfg.Logger, nil)
	for _, f := range exampleZones {
		if err := zs.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	m := NewMetrics(reg)
	srv := New(NewHandler(zs, nil, nil, cfg, m), cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	addr := srv.TCPAddrs()[0].String()
	open := func(from string) (*dns.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 3 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return nil, err
		}
		dc := &dns.Conn{Conn: c}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if err := dc.WriteMsg(query("www.example.test.", dns.TypeA, false)); err != nil {
			c.Close()
			return nil, err
		}
		if _, err := dc.ReadMsg(); err != nil {
			c.Close()
			return nil, err
		}
		return dc, nil
	}
	first, err := open("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	second, err := open("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if c, err := open("127.0.0.1"); err == nil {
		c.Close()
		t.Fatal("a third connection from 127.0.0.1 was served")
	}
	other, err := open("127.0.0.2")
	if err != nil {
		t.Fatalf("another client was refused: %v", err)
	}
	other.Close()
	first.Close()
	var again *dns.Conn
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if again, err = open("127.0.0.1"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("a freed slot was not given back: %v", err)
	}
	again.Close()
	// One refusal, plus any retry above that came before the server saw the close.
	if got := testutil.ToFloat64(m.tcpRefused); got < 1 {
		t.Errorf("refused connections counted: %v, want at least 1", got)
	}
}
