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

	hits, misses, failures atomic.Uint64
	made                   [256]atomic.Uint64 // signatures made, by algorithm number

	// beforeFlight, when set (tests only), runs after a cache miss and before the miss is
	// folded with concurrent ones.
	beforeFlight func()
}

// New returns a Signer with cfg (zero fields take their defaults).
func New(cfg Config) *Signer {
	cfg = cfg.withDefaults()
	main, err := lru.New[uint64, *entry](cfg.CacheSize)
	if err != nil { // only for a non-positive size, which withDefaults rules out
		panic(err)
	}
	denial, err := lru.New[uint64, *entry](cfg.DenialCacheSize)
	if err != nil {
		panic(err)
	}
	return &Signer{
		cfg:    cfg,
		main:   main,
		denial: denial,
		seed1:  maphash.MakeSeed(),
		seed2:  maphash.MakeSeed(),
	}
}

// Config returns the configuration in use, defaults filled in.
func (s *Signer) Config() Config { return s.cfg }

// Stats is a snapshot of the signer's counters, for the server to export as metrics.
type Stats struct {
	// Signatures counts the signatures made (cache misses that signed), by DNSSEC algorithm
	// number. Only algorithms with a non-zero count are present.
	Signatures map[uint8]uint64
	// CacheHits and CacheMisses count signature-cache lookups over both caches.
	CacheHits, CacheMisses uint64
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
