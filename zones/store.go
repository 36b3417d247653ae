package zones

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Store is the set of served zones. Reads are lock-free: they load an immutable map through an
// atomic pointer, and each zone's snapshot through an atomic pointer of its own. Replacing a
// zone (a reload) swaps that pointer alone; adding or removing zones copies the map under a
// mutex and publishes the copy, once per call: SetAll adds many zones for the price of one.
// The zero value is not usable; call NewStore.
type Store struct {
	mu    sync.Mutex // serialises writers
	zones atomic.Pointer[map[string]*slot]
	gen   atomic.Uint64
}

// slot holds the current snapshot of one zone.
type slot struct{ z atomic.Pointer[Zone] }

// NewStore returns an empty Store.
func NewStore() *Store {
	s := &Store{}
	m := map[string]*slot{}
	s.zones.Store(&m)
	return s
}

// Generation changes whenever a zone is added, replaced or removed, so that a cache of answers
// can key on it and never serve one made from an older zone.
func (s *Store) Generation() uint64 { return s.gen.Load() }

// Set adds z, or replaces the zone with the same origin, atomically.
func (s *Store) Set(z *Zone) { s.SetAll(z) }

// SetAll adds or replaces every zone of zs (a later one wins over an earlier one with the same
// origin). Each zone is swapped atomically; the map is copied at most once.
func (s *Store) SetAll(zs ...*Zone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.zones.Load()
	var added []*Zone
	for _, z := range zs {
		if sl := old[z.origin]; sl != nil {
			sl.z.Store(z)
		} else {
			added = append(added, z)
		}
	}
	if len(added) > 0 {
		m := make(map[string]*slot, len(old)+len(added))
		for k, v := range old {
			m[k] = v
		}
		for _, z := range added {
			sl := m[z.origin]
			if sl == nil {
				sl = &slot{}
				m[z.origin] = sl
			}
			sl.z.Store(z)
		}
		s.zones.Store(&m)
	}
	s.gen.Add(1)
}

// Remove stops serving the zone origin (any case, with or without the final dot).
func (s *Store) Remove(origin string) {
	origin = dns.CanonicalName(origin)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.zones.Load()
	m := make(map[string]*slot, len(old))
	for k, v := range old {
		if k != origin {
			m[k] = v
		}
	}
	s.zones.Store(&m)
	s.gen.Add(1)
}

// Get returns the zone with apex origin (a lowercased FQDN), or nil.
func (s *Store) Get(origin string) *Zone {
	if sl := (*s.zones.Load())[origin]; sl != nil {
		return sl.z.Load()
	}
	return nil
}

// Match returns the deepest served zone that contains qname (a lowercased FQDN), or nil. When a
// parent and its child are both served, a name in the child matches the child. It walks the
// label boundaries of qname without allocating.
func (s *Store) Match(qname string) *Zone {
	m := *s.zones.Load()
	for off, end := 0, false; !end; off, end = dns.NextLabel(qname, off) {
		if sl := m[qname[off:]]; sl != nil {
			return sl.z.Load()
		}
	}
	if sl := m["."]; sl != nil {
		return sl.z.Load()
	}
	return nil
}

// All returns the served zones sorted by origin.
func (s *Store) All() []*Zone {
	m := *s.zones.Load()
	out := make([]*Zone, 0, len(m))
	for _, sl := range m {
		out = append(out, sl.z.Load())
	}
	slices.SortFunc(out, func(a, b *Zone) int { return strings.Compare(a.origin, b.origin) })
	return out
}
