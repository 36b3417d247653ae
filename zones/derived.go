package zones

import (
	"bytes"
	"sort"
	"sync"

	"github.com/signetdns/signet/internal/dnsname"
)

// memo holds values derived from a snapshot by other packages (an NSEC3 chain, say). It lives
// and dies with the snapshot, so a reload never serves a value derived from older data.
// Lookups take no lock (they run on the query path, on every core); builds are serialised.
type memo struct {
	mu sync.Mutex
	m  sync.Map
}

// Memo returns the value stored under key, building it with build the first time. Concurrent
// callers with the same key wait for one build. key should be a package-private type, as with
// context keys.
func (z *Zone) Memo(key any, build func() any) any {
	if v, ok := z.memo.m.Load(key); ok {
		return v
	}
	z.memo.mu.Lock()
	defer z.memo.mu.Unlock()
	if v, ok := z.memo.m.Load(key); ok {
		return v
	}
	v := build()
	z.memo.m.Store(key, v)
	return v
}

// HashedNames calls fn for every name an NSEC3 chain (RFC 5155 §7.1) holds: the names of the
// NSEC chain (owners of authoritative data, cuts, the apex) and the empty non-terminals that
// are not below a cut (ent true).
func (z *Zone) HashedNames(fn func(name string, ent bool)) {
	for i := range z.chain {
		fn(z.chainName(i), false)
	}
	for i := range z.nodes {
		if n := &z.nodes[i]; n.ent && !n.occluded && uint32(i) != n.parent {
			fn(z.nameOf(n), true)
		}
	}
}

// chainKeys are the canonical-order keys of the chain's names, in one buffer. Only zones whose answers
// walk the chain (NSEC mode) build them, on first use: the other zones keep the memory.
type chainKeys struct {
	keys []byte
	ends []int
}

type chainKeysKey struct{}

func (z *Zone) chainKeys() *chainKeys {
	return z.Memo(chainKeysKey{}, func() any {
		c := &chainKeys{ends: make([]int, len(z.chain))}
		for i := range z.chain {
			c.keys = dnsname.AppendKey(c.keys, z.chainName(i))
			c.ends[i] = len(c.keys)
		}
		return c
	}).(*chainKeys)
}

func (c *chainKeys) key(i int) []byte {
	start := 0
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.keys[start:c.ends[i]]
}

// searchChain is search with the stored keys: one key made per call, not one per comparison.
func (z *Zone) searchChain(name string) (int, bool) {
	c := z.chainKeys()
	var kbuf [512]byte
	k := dnsname.AppendKey(kbuf[:0], name)
	i := sort.Search(len(z.chain), func(i int) bool { return bytes.Compare(c.key(i), k) >= 0 })
	return i, i < len(z.chain) && bytes.Equal(c.key(i), k)
}
