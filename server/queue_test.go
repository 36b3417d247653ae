package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
)

// gateSigner blocks signing answers about names starting with "slow" until the gate opens,
// and signs nothing else (the answer goes out unsigned, which is all this test needs).
type gateSigner struct{ gate chan struct{} }

func (g gateSigner) Sign(m *dns.Msg, in *signer.Input, _ *signer.KeyRing, _ time.Time) error {
	if strings.HasPrefix(in.QName, "slow") {
		<-g.gate
	}
	return nil
}

type oneRing struct{ ring *signer.KeyRing }

func (o oneRing) Signing(string) (*signer.KeyRing, signer.Mode, bool) {
	return o.ring, signer.Compact, true
}
func (oneRing) Generation() uint64 { return 1 }

// testRing is a key ring for example.test. with one P-256 key that signs everything.
func testRing(t *testing.T) *signer.KeyRing {
	t.Helper()
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dk, err := signer.NewDNSKEY("example.test.", 257, dns.ECDSAP256SHA256, priv.Public(), 3600)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := signer.NewKeyRing("example.test.", []*signer.Key{signer.NewKey(dk, priv, true)}, signer.RingOptions{}, time.Now(), signer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// TestCachedAnswersFlowWhileSigningIsStuck: with every worker stuck in signing and the queue
// full, answers in the packet cache still come straight from the reader, and the excess
// queries are dropped and counted instead of piling up.
func TestCachedAnswersFlowWhileSigningIsStuck(t *testing.T) {
	ring := testRing(t)
	gate := make(chan struct{})
	cfg := Config{Listen: []string{"127.0.0.1:0"}, UDPReaders: 1, UDPQueue: 2, Logger: quietLogger()}
	zs := NewZoneSet(cfg.Logger, nil)
	for _, f := range exampleZones {
		if err := zs.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHandler(zs, oneRing{ring}, gateSigner{gate}, cfg, nil)
	srv := New(h, cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(gate) // releases every stuck signing
		srv.Shutdown(t.Context())
	}()
	addr := srv.UDPAddrs()[0].String()

	// Warm the packet cache with www.
	if r := exchange(t, "udp", addr, query("www.example.test.", dns.TypeA, true)); len(r.Answer) != 1 {
		t.Fatalf("warm-up: %v", r)
	}
	// Jam the worker and fill the queue, then some more.
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 0; i < 10; i++ {
		b, _ := query("slow"+string(rune('a'+i))+".example.test.", dns.TypeA, true).Pack()
		conn.Write(b)
	}
	// The cached answer still arrives, promptly.
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	start := time.Now()
	r, _, err := c.Exchange(query("www.example.test.", dns.TypeA, true), addr)
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("cached answer while signing is stuck: %v %v", r, err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("cached answer took %s", d)
	}
	deadline := time.Now().Add(2 * time.Second)
	for testutilCounter(h.metrics.queueDrops) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := testutilCounter(h.metrics.queueDrops); n < 1 {
		t.Fatalf("queue drops %v, want some (1 in the worker, 2 queued, the rest dropped)", n)
	}
}
