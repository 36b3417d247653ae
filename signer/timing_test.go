package signer

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestRingTiming: a ring's own Validity and Refresh replace the Signer's for its zone's live,
// cached and pre-made signatures, while a ring without them keeps the Signer's.
func TestRingTiming(t *testing.T) {
	s := New(Config{Validity: 10 * 24 * time.Hour, Refresh: 3 * 24 * time.Hour, Jitter: -1})
	short := testRing(t, RingOptions{Validity: 6 * time.Hour, Refresh: 2 * time.Hour})
	// Other keys: the cache is keyed by zone, key and data, and one zone has one ring.
	long := testRing(t, RingOptions{}, genKey(t, zone, dns.ECDSAP256SHA256, true, true), genKey(t, zone, dns.ECDSAP256SHA256, false, true))
	expiry := func(ring *KeyRing, now time.Time, q query) map[uint16]time.Duration {
		t.Helper()
		m, in := q.build(t, Compact, true)
		if err := s.Sign(m, in, ring, now); err != nil {
			t.Fatal(err)
		}
		out := map[uint16]time.Duration{}
		for _, rr := range m.Answer {
			if sig, ok := rr.(*dns.RRSIG); ok {
				out[sig.TypeCovered] = time.Unix(int64(sig.Expiration), 0).Sub(now)
			}
		}
		return out
	}
	dnskey := query{name: "dnskey", qname: zone, qtype: dns.TypeDNSKEY, kind: NoData, ns: []string{soaNeg}}
	for _, tc := range []struct {
		name string
		ring *KeyRing
		want time.Duration
	}{
		{"zone override", short, 6 * time.Hour},
		{"signer default", long, 10 * 24 * time.Hour},
	} {
		got := expiry(tc.ring, t0, qAnswer)[dns.TypeA]
		if got != tc.want {
			t.Errorf("%s: A signature valid for %v, want %v", tc.name, got, tc.want)
		}
	}
	// The pre-made DNSKEY signature, made at t0 by NewKeyRing, follows the ring's timing too.
	if got := expiry(short, t0, dnskey)[dns.TypeDNSKEY]; got != 6*time.Hour {
		t.Errorf("DNSKEY signature valid for %v, want 6h", got)
	}
	// 3h later the short zone's cached signature (3h left) is still above its 2h refresh: the
	// same signature; 4h30m later (1h30m left) it is re-made.
	if got := expiry(short, t0.Add(3*time.Hour), qAnswer)[dns.TypeA]; got != 3*time.Hour {
		t.Errorf("after 3h: %v left, want the cached signature's 3h", got)
	}
	if got := expiry(short, t0.Add(4*time.Hour+30*time.Minute), qAnswer)[dns.TypeA]; got != 6*time.Hour {
		t.Errorf("after 4h30m: %v left, want a fresh signature's 6h", got)
	}
}
