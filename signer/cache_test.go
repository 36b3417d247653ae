package signer

import (
	"crypto"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// signA signs an answer holding answer (records at a.example.) and returns its RRSIGs.
func signA(t *testing.T, s *Signer, ring *KeyRing, now time.Time, answer ...string) []*dns.RRSIG {
	t.Helper()
	q := qAnswer
	q.answer = answer
	m, in := q.build(t, Compact, true)
	if err := s.Sign(m, in, ring, now); err != nil {
		t.Fatal(err)
	}
	var out []*dns.RRSIG
	for _, sigs := range verifyAll(t, m, ring, now, in) {
		out = append(out, sigs...)
	}
	if len(out) != 1 {
		t.Fatalf("%d RRSIGs, want 1", len(out))
	}
	return out
}

func made(s *Signer) uint64 {
	var n uint64
	for _, v := range s.Stats().Signatures {
		n += v
	}
	return n
}

func TestCache(t *testing.T) {
	ring := testRing(t, RingOptions{})
	base := []string{"a.example. 600 IN A 192.0.2.1", "a.example. 600 IN A 192.0.2.2"}
	for _, tc := range []struct {
		name    string
		second  []string
		ring    func() *KeyRing
		later   time.Duration
		wantHit bool
	}{
		{name: "same RRset", second: base, wantHit: true},
		{name: "same RRset, other order", second: []string{base[1], base[0]}, wantHit: true},
		{name: "one record edited", second: []string{base[0], "a.example. 600 IN A 192.0.2.3"}},
		{name: "record added", second: append([]string{"a.example. 600 IN A 192.0.2.4"}, base...)},
		{name: "TTL only", second: []string{"a.example. 601 IN A 192.0.2.1", "a.example. 601 IN A 192.0.2.2"}},
		{name: "other key", second: base, ring: func() *KeyRing {
			k, _ := sharedKeys(t)
			return testRing(t, RingOptions{}, k, genKey(t, zone, dns.ECDSAP256SHA256, false, true))
		}},
		{name: "same key, new ring", second: base, ring: func() *KeyRing { return testRing(t, RingOptions{}) }, wantHit: true},
		{name: "4 days later: over Refresh left", second: base, later: 4 * 24 * time.Hour, wantHit: true},
		{name: "5 days later: under Refresh left", second: base, later: 5*24*time.Hour + time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Config{})
			first := signA(t, s, ring, t0, base...)[0]
			r2 := ring
			if tc.ring != nil {
				r2 = tc.ring()
			}
			now := t0.Add(tc.later)
			second := signA(t, s, r2, now, tc.second...)[0]
			st := s.Stats()
			if hit := second == first; hit != tc.wantHit {
				t.Errorf("cache hit %v, want %v (stats %+v)", hit, tc.wantHit, st)
			}
			wantMade := uint64(2)
			if tc.wantHit {
				wantMade = 1
				if st.CacheHits != 1 {
					t.Errorf("hits %d, want 1", st.CacheHits)
				}
			}
			if made(s) != wantMade {
				t.Errorf("%d signatures made, want %d", made(s), wantMade)
			}
			if tc.later > 0 && !tc.wantHit && second.Inception != uint32(now.Add(-time.Hour).Unix()) {
				t.Errorf("refreshed signature has inception %d, want now-1h", second.Inception)
			}
		})
	}
}

// TestCacheLargeSetsNeverShare: RRsets that differ in one octet deep inside large RDATA get
// their own signatures, each over its own data.
func TestCacheLargeSetsNeverShare(t *testing.T) {
	ring := testRing(t, RingOptions{})
	s := New(Config{})
	big := strings.Repeat("x", 200)
	var first []string
	for i := range 40 {
		first = append(first, fmt.Sprintf(`a.example. 600 IN TXT "%s%03d"`, big, i))
	}
	second := append([]string(nil), first...)
	second[20] = fmt.Sprintf(`a.example. 600 IN TXT "%s%03dy"`, big[1:], 20)
	third := append([]string(nil), first...)
	third[39] = strings.Replace(third[39], `"x`, `"X`, 1) // case matters in TXT
	a := signA(t, s, ring, t0, first...)[0]
	b := signA(t, s, ring, t0, second...)[0]
	c := signA(t, s, ring, t0, third...)[0]
	if a == b || a == c || b == c || made(s) != 3 {
		t.Errorf("different RRsets shared a signature (%d made)", made(s))
	}
}

func TestJitter(t *testing.T) {
	ring := testRing(t, RingOptions{})
	s := New(Config{})
	exps := map[uint32]bool{}
	latest := uint32(t0.Add(7 * 24 * time.Hour).Unix())
	for i := range 20 {
		sig := signA(t, s, ring, t0, fmt.Sprintf("a.example. 600 IN A 192.0.2.%d", i))[0]
		if sig.Expiration > latest || sig.Expiration <= latest-3600 {
			t.Errorf("expiration %d outside (now+7d-1h, now+7d]", sig.Expiration)
		}
		exps[sig.Expiration] = true
		if again := signA(t, s, ring, t0, fmt.Sprintf("a.example. 600 IN A 192.0.2.%d", i))[0]; again.Expiration != sig.Expiration {
			t.Error("jitter not stable for one RRset")
		}
	}
	if len(exps) < 10 {
		t.Errorf("20 RRsets signed together share %d expirations: jitter does not spread", len(exps))
	}
}

// TestDenialFloodKeepsHotEntries: a random-subdomain flood goes to the denial cache and cannot
// evict a hot positive signature from the main cache.
func TestDenialFloodKeepsHotEntries(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	ksk, zsk := sharedKeys(t)
	// A ZSK whose signatures are fake (fast): this test is about cache placement, and
	// 200k real signatures would take seconds under -race.
	fast := *zsk
	fast.Signer = newFastSigner(t, zsk.Signer)
	ring := testRing(t, RingOptions{}, ksk, &fast)
	s := New(Config{CacheSize: 16, DenialCacheSize: 1000})
	hot := func() {
		q := qAnswer
		m, in := q.build(t, Compact, true)
		if err := s.Sign(m, in, ring, t0); err != nil {
			t.Fatal(err)
		}
	}
	hot()
	soa, zsoa := negSOA(t), testSOA(t)
	deny := func(i int) {
		name := fmt.Sprintf("r%d.example.", i)
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		m.Rcode, m.Ns = dns.RcodeNameError, []dns.RR{soa}
		in := &Input{Zone: zone, Mode: Compact, Kind: NXDomain, QName: name, QType: dns.TypeA, Name: name,
			ClosestEncloser: zone, SOA: zsoa, DO: true}
		if err := s.Sign(m, in, ring, t0); err != nil {
			t.Fatal(err)
		}
	}
	// Unique names, each asked once: the doorkeeper keeps them all out of the cache.
	for i := range n {
		deny(i)
	}
	if st := s.Stats(); st.DenialCacheLen != 0 || st.CacheLen != 2 {
		t.Errorf("after a flood of unique names: main %d denial %d, want 2 and 0", st.CacheLen, st.DenialCacheLen)
	}
	// Names asked twice in a row enter the denial cache, which stays within its bound.
	for i := range n {
		deny(n + i)
		deny(n + i)
	}
	before := s.Stats()
	if before.DenialCacheLen != 1000 || before.CacheLen != 2 {
		t.Errorf("cache lengths main %d denial %d, want 2 (A, SOA) and 1000", before.CacheLen, before.DenialCacheLen)
	}
	deny(2*n - 1) // the most recent repeated name: a hit now
	hot()
	after := s.Stats()
	// The repeat: its NSEC and the SOA hit; then the hot answer hits.
	if after.CacheHits != before.CacheHits+3 || made(s) != uint64(3*n)+2 {
		t.Errorf("hot entry evicted by the flood: hits %d -> %d, made %d", before.CacheHits, after.CacheHits, made(s))
	}
}

// fastSigner returns one fixed DER ECDSA signature whatever it is asked to sign: fast, and
// verifiably wrong, which tests that only count or place signatures do not mind.
type fastSigner struct {
	crypto.Signer
	der []byte
}

func newFastSigner(t testing.TB, s crypto.Signer) fastSigner {
	der, err := s.Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return fastSigner{Signer: s, der: der}
}

func (f fastSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return f.der, nil }

// gate runs wait before each signature.
type gate struct {
	crypto.Signer
	wait func()
}

func (g *gate) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	g.wait()
	return g.Signer.Sign(r, d, o)
}

func TestSingleflight(t *testing.T) {
	ksk, zsk := sharedKeys(t)
	const n = 16
	counting := &countSigner{Signer: zsk.Signer}
	k := *zsk
	s := New(Config{})
	var arrived sync.WaitGroup
	arrived.Add(n)
	s.beforeFlight = arrived.Done
	// The one signature blocks until every goroutine has missed the cache: without folding
	// each of them would sign.
	k.Signer = &gate{Signer: counting, wait: arrived.Wait}
	ring := testRing(t, RingOptions{}, ksk, &k)

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			m, in := qAnswer.build(t, Compact, true)
			errs <- s.Sign(m, in, ring, t0)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if counting.n != 1 || s.Stats().CacheMisses != n {
		t.Errorf("%d signatures for %d concurrent misses (stats %+v), want 1", counting.n, n, s.Stats())
	}
}
