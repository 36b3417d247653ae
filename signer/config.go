package signer

import (
	"hash/maphash"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"
)

// Config holds the signer's tunables. The zero value of every field selects its default, so
// Config{} is a working configuration.
type Config struct {
	// Validity is how long a new signature is valid after now. Default 7 days, as Route 53 does.
	Validity time.Duration
	// Inception is how far before now a new signature's inception is set, so that validators
	// whose clocks run slow still accept it. Default 1 h.
	Inception time.Duration
	// Refresh: a cached signature is re-made when less than this validity remains at the
	// time passed to Sign. Default 2 days. Must be below Validity - Jitter.
	Refresh time.Duration
	// Jitter spreads expirations: each signature's expiration is lowered by a deterministic
	// pseudo-random amount in [0, Jitter) derived from its cache key, so that signatures made
	// in one burst (a cold start, a key change) do not all come up for re-signing together.
	// Default 1 h. A negative value disables jitter.
	Jitter time.Duration
	// CacheSize bounds the main signature cache, in entries. Default 1,000,000.
	CacheSize int
	// DenialCacheSize bounds a second, separate cache for signatures over records whose owner
	// is the query name (synthesised denial NSECs, wildcard expansions at the query name):
	// a random-subdomain flood fills only this one and cannot evict the signatures of the
	// zone's real data. Default 100,000.
	DenialCacheSize int
	// ObserveSign, when set, is told the algorithm and duration of every signature made
	// (the metrics' signing latency). It runs on the query path after a cache miss, so it
	// must be quick and safe for concurrent use.
	ObserveSign func(algorithm uint8, took time.Duration)
}

// Defaults for Config's zero fields.
const (
	DefaultValidity        = 7 * 24 * time.Hour
	DefaultInception       = time.Hour
	DefaultRefresh         = 2 * 24 * time.Hour
	DefaultJitter          = time.Hour
	DefaultCacheSize       = 1_000_000
	DefaultDenialCacheSize = 100_000
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Validity <= 0 {
		c.Validity = DefaultValidity
	}
	if c.Inception <= 0 {
		c.Inception = DefaultInception
	}
	if c.Refresh <= 0 {
		c.Refresh = DefaultRefresh
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = DefaultJitter
	case c.Jitter < 0:
		c.Jitter = 0
	}
	if c.CacheSize <= 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.DenialCacheSize <= 0 {
		c.DenialCacheSize = DefaultDenialCacheSize
	}
	return c
}

// Signer adds DNSSEC records to responses and caches the signatures it makes. It is safe for
// concurrent use; one Signer serves every zone (the cache keys include the zone and the key).
type Signer struct {
	cfg Config

	main, denial *lru.Cache[uint64, *entry]
	flight       singleflight.Group

	// seen is the denial cache's doorkeeper: a direct-mapped table of recently missed keys.
	// A denial signature enters the cache (and is folded with concurrent misses) only when
	// its key is seen a second time, so unique random names, which are never asked again,
	// cost no cache insertion, eviction or flight bookkeeping.
	seen [4096]atomic.Uint64

	// seed1 keys the cache index, seed2 the independent collision check (see cache.go).
	seed1, seed2 maphash.Seed

	hits, misses, failures, evictions atomic.Uint64
	made                              [256]atomic.Uint64 // signatures made, by algorithm number

	// served tracks the earliest expiration of the signatures served in the current and the
	// previous minute (slot = minute & 1), for the metric of the signature closest to
	// expiring; see noteServed.
	served [2]struct{ minute, exp atomic.Int64 }

	// beforeFlight, when set (tests only), runs after a cache miss and before the miss is
	// folded with concurrent ones.
	beforeFlight func()
}

// New returns a Signer with cfg (zero fields take their defaults).
func New(cfg Config) *Signer {
	cfg = cfg.withDefaults()
	s := &Signer{cfg: cfg, seed1: maphash.MakeSeed(), seed2: maphash.MakeSeed()}
	evicted := func(uint64, *entry) { s.evictions.Add(1) }
	var err error
	s.main, err = lru.NewWithEvict(cfg.CacheSize, evicted)
	if err != nil { // only for a non-positive size, which withDefaults rules out
		panic(err)
	}
	s.denial, err = lru.NewWithEvict(cfg.DenialCacheSize, evicted)
	if err != nil {
		panic(err)
	}
	return s
}

// Config returns the configuration in use, defaults filled in.
func (s *Signer) Config() Config { return s.cfg }

// Stats is a snapshot of the signer's counters, for the server to export as metrics.
type Stats struct {
	// Signatures counts the signatures made (cache misses that signed), by DNSSEC algorithm
	// number. Only algorithms with a non-zero count are present.
	Signatures map[uint8]uint64
	// CacheHits and CacheMisses count signature-cache lookups over both caches; Evictions
	// counts entries pushed out of either by newer ones (a cache too small for the zone's
	// working set shows here first).
	CacheHits, CacheMisses, Evictions uint64
	// Failures counts Sign calls that returned an error (the server answered SERVFAIL).
	Failures uint64
	// CacheLen and DenialCacheLen are the current number of entries in each cache.
	CacheLen, DenialCacheLen int
}

// Stats returns a snapshot of the counters. It allocates (the map) and is meant for a metrics
// scrape, not the query path.
func (s *Signer) Stats() Stats {
	st := Stats{
		Signatures:     make(map[uint8]uint64),
		CacheHits:      s.hits.Load(),
		CacheMisses:    s.misses.Load(),
		Evictions:      s.evictions.Load(),
		Failures:       s.failures.Load(),
		CacheLen:       s.main.Len(),
		DenialCacheLen: s.denial.Len(),
	}
	for alg := range s.made {
		if n := s.made[alg].Load(); n > 0 {
			st.Signatures[uint8(alg)] = n
		}
	}
	return st
}

// noteServed records that a signature expiring at exp (Unix seconds) was served at now.
// It costs two atomic loads when exp is not a new minimum.
func (s *Signer) noteServed(exp int64, now time.Time) {
	minute := now.Unix() / 60
	slot := &s.served[minute&1]
	if slot.minute.Load() != minute {
		// A new minute: the slot's last use was two minutes ago. A race here loses at most
		// one sample at the boundary.
		slot.exp.Store(exp)
		slot.minute.Store(minute)
		return
	}
	for {
		cur := slot.exp.Load()
		if cur <= exp || slot.exp.CompareAndSwap(cur, exp) {
			return
		}
	}
}

// EarliestServedExpiry returns the earliest expiration among the signatures served in the
// last one to two minutes before now, and false when none was served. An online signer
// serves a cached signature only while at least Refresh of it is left, so this stays above
// Refresh unless something is wrong (a clock step, a stuck cache).
func (s *Signer) EarliestServedExpiry(now time.Time) (time.Time, bool) {
	minute := now.Unix() / 60
	var best int64
	for i := range s.served {
		m := s.served[i].minute.Load()
		if m != minute && m != minute-1 {
			continue
		}
		if e := s.served[i].exp.Load(); best == 0 || e < best {
			best = e
		}
	}
	if best == 0 {
		return time.Time{}, false
	}
	return time.Unix(best, 0), true
}
