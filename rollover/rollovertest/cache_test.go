package rollovertest

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

func snap(h float64, up bool, dnskey, kskSigners, dataSigners, ds []string) Snapshot {
	return Snapshot{At: at(h), Up: up, DNSKEY: dnskey, DNSKEYSigners: kskSigners, DataSigners: dataSigners, DS: ds}
}

func TestChecker(t *testing.T) {
	k, a, b := []string{"k"}, []string{"a"}, []string{"b"}
	kab, ka, kb := []string{"a", "b", "k"}, []string{"a", "k"}, []string{"b", "k"}
	k2, kk2 := []string{"k2"}, []string{"k", "k2"}
	// TTLs: DNSKEY 1 h, data 2 h, DS 3 h.
	tests := []struct {
		name  string
		snaps []Snapshot
		want  int // distinct violations
	}{
		{"pre-publish with full intervals", []Snapshot{
			snap(0, true, ka, k, a, k), snap(10, true, kab, k, a, k), snap(11, true, kab, k, b, k), snap(13, true, kb, k, b, k), snap(20, true, kb, k, b, k),
		}, 0},
		{"new ZSK signs at publish", []Snapshot{
			snap(0, true, ka, k, a, k), snap(10, true, kab, k, b, k), snap(20, true, kb, k, b, k),
		}, 1},
		{"new ZSK signs one minute early", []Snapshot{
			snap(0, true, ka, k, a, k), snap(10, true, kab, k, a, k), snap(10+59.0/60, true, kab, k, b, k), snap(20, true, kab, k, b, k),
		}, 1},
		{"old ZSK removed at retire", []Snapshot{
			snap(0, true, ka, k, a, k), snap(10, true, kab, k, a, k), snap(11, true, kb, k, b, k), snap(20, true, kb, k, b, k),
		}, 2}, // signatures served from 0 and from 10 are both stranded
		{"outage hides nothing that was cached", []Snapshot{
			// The new key's DNSKEY RRset was served only from 10.5; the old RRset was last
			// served at 10 (down from 10 to 10.5), so activating at 11 is safe.
			snap(0, true, ka, k, a, k), snap(10, false, kab, k, a, k), snap(10.5, true, kab, k, a, k), snap(11, true, kab, k, b, k), snap(20, true, kb, k, b, k),
		}, 0},
		{"double-KSK with DS TTL waited", []Snapshot{
			snap(0, true, ka, k, a, k), snap(10, true, append(ka, "k2"), kk2, a, k), snap(20, true, append(ka, "k2"), kk2, a, k2),
			snap(23, true, []string{"a", "k2"}, k2, a, k2), snap(30, true, []string{"a", "k2"}, k2, a, k2),
		}, 0},
		{"old KSK removed before the old DS expired", []Snapshot{
			snap(0, true, ka, k, a, k), snap(10, true, append(ka, "k2"), kk2, a, k), snap(20, true, append(ka, "k2"), kk2, a, k2),
			snap(22, true, []string{"a", "k2"}, k2, a, k2), snap(30, true, []string{"a", "k2"}, k2, a, k2),
		}, 1},
		{"parent publishes DS before the DNSKEY RRset is everywhere", []Snapshot{
			snap(0, true, ka, k, a, k), snap(10, true, append(ka, "k2"), kk2, a, k), snap(10.5, true, append(ka, "k2"), kk2, a, k2), snap(20, true, append(ka, "k2"), kk2, a, k2),
		}, 1},
		{"insecure delegation before the first DS", []Snapshot{
			snap(0, true, ka, k, a, nil), snap(1, true, ka, k, a, k), snap(5, true, ka, k, a, k),
		}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(time.Hour, 2*time.Hour, 3*time.Hour)
			for _, s := range tc.snaps {
				c.Observe(s)
			}
			if c.Count() != tc.want {
				t.Errorf("violations = %d, want %d: %v", c.Count(), tc.want, c.Violations())
			}
		})
	}
}

// TestCheckerAlgorithms checks the RFC 4035 §2.2 condition across caches: an algorithm rollover
// in RFC 6781 §4.1.4's order passes, and each shortcut is caught. Keys k and a have algorithm
// 13, K and A algorithm 15; TTLs: DNSKEY 1 h, data 2 h, DS 3 h.
func TestCheckerAlgorithms(t *testing.T) {
	alg := map[string]uint8{"k": 13, "a": 13, "K": 15, "A": 15}
	s := func(h float64, dnskey, kskSigners, dataSigners, ds []string) Snapshot {
		sn := snap(h, true, dnskey, kskSigners, dataSigners, ds)
		sn.Algorithms = alg
		return sn
	}
	old, both, nw := []string{"a", "k"}, []string{"A", "K", "a", "k"}, []string{"A", "K"}
	k, kK, K := []string{"k"}, []string{"K", "k"}, []string{"K"}
	a, aA, A := []string{"a"}, []string{"A", "a"}, []string{"A"}
	tests := []struct {
		name  string
		snaps []Snapshot
		want  int
	}{
		{"RFC 6781 order with full intervals", []Snapshot{
			s(0, old, k, a, k), s(10, old, k, aA, k), s(12, both, kK, aA, k), s(13, both, kK, aA, K),
			s(16, nw, kK, aA, K), s(17, nw, K, A, K), s(25, nw, K, A, K),
		}, 0},
		{"new keys published before the new signatures are cached", []Snapshot{
			s(0, old, k, a, k), s(10, old, k, aA, k), s(11, both, kK, aA, k), s(13, both, kK, aA, K),
			s(16, nw, kK, aA, K), s(17, nw, K, A, K), s(25, nw, K, A, K),
		}, 1},
		{"old signatures withdrawn with the old keys", []Snapshot{
			s(0, old, k, a, k), s(10, old, k, aA, k), s(12, both, kK, aA, k), s(13, both, kK, aA, K),
			s(16, nw, K, A, K), s(25, nw, K, A, K),
		}, 1},
		{"DNSKEY RRset not signed by its new algorithm", []Snapshot{
			s(0, old, k, a, k), s(10, old, k, aA, k), s(12, both, k, aA, k), s(20, both, k, aA, k),
		}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(time.Hour, 2*time.Hour, 3*time.Hour)
			for _, sn := range tc.snaps {
				c.Observe(sn)
			}
			if c.Count() != tc.want {
				t.Errorf("violations = %d, want %d: %v", c.Count(), tc.want, c.Violations())
			}
		})
	}
}
