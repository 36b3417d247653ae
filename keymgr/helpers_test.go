package keymgr

import (
	"context"
	"crypto"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/signer"
	filestate "github.com/signetdns/signet/statestore/file"
)

const testZone = "example.test."

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// flakyStore is the memory keystore whose signers fail while down is set: a TPM that stops
// answering.
type flakyStore struct {
	*memory.Store
	down atomic.Bool
	lost sync.Map // key ID -> true: keys this TPM cannot load (made by another TPM)
}

func (f *flakyStore) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	s, err := f.Store.Signer(ctx, id)
	if err != nil {
		return nil, err
	}
	return &flakySigner{Signer: s, store: f, id: id}, nil
}

type flakySigner struct {
	crypto.Signer
	store *flakyStore
	id    string
}

var (
	errTPMDown    = errors.New("tpm: connection refused")
	errForeignTPM = errors.New("tpm: the key was created by a different TPM")
)

// Sign fails while the TPM is down, or for good when the key is lost (as the TPM keystore
// does: it loads the key at the first signature).
func (s *flakySigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	if s.store.down.Load() {
		return nil, errTPMDown
	}
	if _, lost := s.store.lost.Load(s.id); lost {
		return nil, errForeignTPM
	}
	return s.Signer.Sign(r, d, o)
}

// clock is a settable test clock.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.t.Store(&t) }
func (c *clock) now() time.Time   { return *c.t.Load() }

type fixture struct {
	m    *Manager
	soft *memory.Store
	tpm  *flakyStore
	clk  *clock
	dir  string
}

// newFixture makes a Manager over the given stores and clock. The KSK health check is off
// unless an option turns it on: the simulations step from one deadline to the next over
// months, and a check every minute would multiply their steps (health_test.go tests it).
func newFixture(t *testing.T, dir string, soft *memory.Store, tpm *flakyStore, clk *clock, opts ...func(*Config)) *fixture {
	t.Helper()
	cfg := Config{State: fileState(t, dir), Soft: soft, TPM: tpm, Now: clk.now, KSKCheckInterval: -1}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{m: m, soft: soft, tpm: tpm, clk: clk, dir: dir}
}

func setup(t *testing.T, p ZonePolicy, opts ...func(*Config)) *fixture {
	t.Helper()
	f := newFixture(t, t.TempDir(), memory.New(), &flakyStore{Store: memory.New()}, newClock(t0), opts...)
	if err := f.m.AddZone(context.Background(), testZone, p); err != nil {
		t.Fatal(err)
	}
	return f
}

// verifyRing checks that the ring's DNSKEY RRset is signed at at by a pre-made signature of
// every active KSK that verifies, and that its ZSKs sign an A RRset that verifies.
func verifyRing(t *testing.T, ring *signer.KeyRing, at time.Time) {
	t.Helper()
	if ring == nil {
		t.Fatal("no ring")
	}
	s := signer.New(signer.Config{})
	m := new(dns.Msg)
	m.SetQuestion(testZone, dns.TypeDNSKEY)
	m.Answer = append(m.Answer, ring.DNSKEYs()...)
	soa := mustRR(t, testZone+" 3600 IN SOA ns. host. 1 3600 600 86400 300").(*dns.SOA)
	in := &signer.Input{Zone: testZone, Kind: signer.Answer, QName: testZone, QType: dns.TypeDNSKEY, Name: testZone, SOA: soa, DO: true}
	if err := s.Sign(m, in, ring, at); err != nil {
		t.Fatalf("sign DNSKEY at %s: %v", at, err)
	}
	verifyAnswer(t, m, ring, at, dns.TypeDNSKEY)

	a := new(dns.Msg)
	a.SetQuestion("www."+testZone, dns.TypeA)
	a.Answer = []dns.RR{mustRR(t, "www."+testZone+" 300 IN A 192.0.2.1")}
	in = &signer.Input{Zone: testZone, Kind: signer.Answer, QName: "www." + testZone, QType: dns.TypeA, Name: "www." + testZone, SOA: soa, DO: true}
	if err := s.Sign(a, in, ring, at); err != nil {
		t.Fatalf("sign A at %s: %v", at, err)
	}
	verifyAnswer(t, a, ring, at, dns.TypeA)
}

func verifyAnswer(t *testing.T, m *dns.Msg, ring *signer.KeyRing, at time.Time, typ uint16) {
	t.Helper()
	var set []dns.RR
	var sigs []*dns.RRSIG
	for _, rr := range m.Answer {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == typ {
			sigs = append(sigs, s)
		} else if rr.Header().Rrtype == typ {
			set = append(set, rr)
		}
	}
	if len(sigs) == 0 {
		t.Fatalf("no RRSIG over %s:\n%s", dns.TypeToString[typ], m)
	}
	for _, sig := range sigs {
		var key *dns.DNSKEY
		for _, rr := range ring.DNSKEYs() {
			if k := rr.(*dns.DNSKEY); k.KeyTag() == sig.KeyTag {
				key = k
			}
		}
		for _, k := range ring.Keys() {
			if key == nil && k.Unpublished && k.Tag == sig.KeyTag {
				key = k.DNSKEY // an algorithm rollover's key signing while not published
			}
		}
		if key == nil {
			t.Fatalf("RRSIG by key %d, which the ring does not publish", sig.KeyTag)
		}
		if typ == dns.TypeDNSKEY && key.Flags&dns.SEP == 0 {
			t.Errorf("DNSKEY RRset signed by ZSK %d", sig.KeyTag)
		}
		if err := sig.Verify(key, set); err != nil {
			t.Errorf("%s RRSIG by %d: %v", dns.TypeToString[typ], sig.KeyTag, err)
		}
		if !sig.ValidityPeriod(at) {
			t.Errorf("%s RRSIG by %d not valid at %s", dns.TypeToString[typ], sig.KeyTag, at)
		}
	}
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

func mustCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if got := ErrorCode(err); got != code {
		t.Fatalf("error %v: code %s, want %s", err, got, code)
	}
}

func zskIDs(t *testing.T, s keystore.Store) map[string]bool {
	t.Helper()
	metas, err := s.List(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range metas {
		if m.Role == keystore.ZSK {
			out[m.ID] = true
		}
	}
	return out
}

// healthAt returns the test zone's health at now, from its current view.
func healthAt(m *Manager, now time.Time) ZoneHealth {
	z, _ := m.lookup(testZone)
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.view().health(now)
}

// healthNow returns the test zone's health as Health reports it at the Manager's clock, as a
// metrics scrape reads it.
func healthNow(t *testing.T, m *Manager) ZoneHealth {
	t.Helper()
	for _, h := range m.Health(m.Now()) {
		if h.Zone == testZone {
			return h
		}
	}
	t.Fatalf("Health does not report %s", testZone)
	return ZoneHealth{}
}

// fileState opens the file state store over dir/zones, where a server keeps it.
func fileState(t *testing.T, dir string) *filestate.Store {
	t.Helper()
	s, err := filestate.Open(filepath.Join(dir, "zones"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
