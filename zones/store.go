package zones

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Store is the set of served zones. Reads are lock-free: they load an immutable map through an
// atomic pointer. Writers copy the map under a mutex and publish the copy, so a reload swaps a
// whole zone at once. The zero value is not usable; call NewStore.
type Store struct {
	mu    sync.Mutex // serialises writers
	zones atomic.Pointer[map[string]*Zone]
	gen   atomic.Uint64
}

// NewStore returns an empty Store.
func NewStore() *Store {
	s := &Store{}
	m := map[string]*Zone{}
	s.zones.Store(&m)
	return s
}

func (s *Store) update(f func(m map[string]*Zone)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.zones.Load()
	m := make(map[string]*Zone, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	f(m)
	s.zones.Store(&m)
	s.gen.Add(1)
}

// Generation changes whenever a zone is added, replaced or removed, so that a cache of answers
// can key on it and never serve one made from an older zone.
func (s *Store) Generation() uint64 { return s.gen.Load() }

// Set adds z, or replaces the zone with the same origin, atomically.
func (s *Store) Set(z *Zone) { s.update(func(m map[string]*Zone) { m[z.origin] = z }) }

// Remove stops serving the zone origin (any case, with or without the final dot).
func (s *Store) Remove(origin string) {
	origin = dns.CanonicalName(origin)
	s.update(func(m map[string]*Zone) { delete(m, origin) })
}

// Get returns the zone with apex origin (a lowercased FQDN), or nil.
func (s *Store) Get(origin string) *Zone { return (*s.zones.Load())[origin] }

// Match returns the deepest served zone that contains qname (a lowercased FQDN), or nil. When a
// parent and its child are both served, a name in the child matches the child. It walks the
// label boundaries of qname without allocating.
func (s *Store) Match(qname string) *Zone {
	m := *s.zones.Load()
	for off, end := 0, false; !end; off, end = dns.NextLabel(qname, off) {
		if z := m[qname[off:]]; z != nil {
			return z
		}
	}
	return m["."]
}

// All returns the served zones sorted by origin.
func (s *Store) All() []*Zone {
	m := *s.zones.Load()
	out := make([]*Zone, 0, len(m))
	for _, z := range m {
		out = append(out, z)
	}
	slices.SortFunc(out, func(a, b *Zone) int { return strings.Compare(a.origin, b.origin) })
	return out
}
