package signer

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestMetricsCounters: evictions are counted once the cache is full, every signature made is
// reported to ObserveSign with its algorithm, and the earliest expiry of what was served is
// that of the oldest cached signature, over the last one to two minutes only.
func TestMetricsCounters(t *testing.T) {
	ring := testRing(t, RingOptions{})
	var mu sync.Mutex
	observed := map[uint8]int{}
	s := New(Config{CacheSize: 2, Jitter: -1, ObserveSign: func(alg uint8, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if took <= 0 {
			t.Errorf("signing took %v", took)
		}
		observed[alg]++
	}})
	if _, ok := s.EarliestServedExpiry(t0); ok {
		t.Fatal("an earliest expiry before anything was served")
	}
	first := signA(t, s, ring, t0, "a.example. 600 IN A 192.0.2.1")[0]
	var second uint32
	for i := 2; i <= 4; i++ {
		sig := signA(t, s, ring, t0.Add(time.Hour), fmt.Sprintf("a.example. 600 IN A 192.0.2.%d", i))[0]
		if i == 2 {
			second = sig.Expiration
		}
	}
	st := s.Stats()
	if st.Evictions != 2 || st.CacheLen != 2 {
		t.Errorf("4 signatures in a 2-entry cache: %d evictions, %d entries; want 2 and 2", st.Evictions, st.CacheLen)
	}
	if n := observed[first.Algorithm]; n != 4 {
		t.Errorf("ObserveSign saw %d signatures of algorithm %d, want 4", n, first.Algorithm)
	}
	// The first signature was served an hour earlier and no longer counts; of the three
	// served in the last minute (all made at once, no jitter) the expiry is the same.
	got, ok := s.EarliestServedExpiry(t0.Add(time.Hour))
	if want := time.Unix(int64(second), 0); !ok || !got.Equal(want) || got.Equal(time.Unix(int64(first.Expiration), 0)) {
		t.Errorf("earliest served expiry %v (%v), want %v", got, ok, want)
	}
	// Two minutes without serving anything: nothing to report.
	if _, ok := s.EarliestServedExpiry(t0.Add(time.Hour + 3*time.Minute)); ok {
		t.Error("an earliest expiry reported for signatures served minutes ago")
	}
}
