package zones

import "sync"

// memo holds values derived from a snapshot by other packages (an NSEC3 chain, say). It lives
// and dies with the snapshot, so a reload never serves a value derived from older data.
type memo struct {
	mu sync.Mutex
	m  map[any]any
}

// Memo returns the value stored under key, building it with build the first time. Concurrent
// callers with the same key wait for one build. key should be a package-private type, as with
// context keys.
func (z *Zone) Memo(key any, build func() any) any {
	z.memo.mu.Lock()
	defer z.memo.mu.Unlock()
	if v, ok := z.memo.m[key]; ok {
		return v
	}
	if z.memo.m == nil {
		z.memo.m = map[any]any{}
	}
	v := build()
	z.memo.m[key] = v
	return v
}

// HashedNames calls fn for every name an NSEC3 chain (RFC 5155 §7.1) holds: the names of the
// NSEC chain (owners of authoritative data, cuts, the apex) and the empty non-terminals that
// are not below a cut (ent true).
func (z *Zone) HashedNames(fn func(name string, ent bool)) {
	for _, name := range z.names {
		fn(name, false)
	}
	for name, n := range z.nodes {
		if n.ent && !n.occluded && name != z.origin {
			fn(name, true)
		}
	}
}
