package zones

import (
	"slices"
	"sort"
	"strings"

	"github.com/signetdns/signet/internal/dnsname"
)

// order lists the names Neighbours walks: owners of RRsets served as authoritative data (the
// cuts included, what lies below them excluded) and the apex.
func (z *Zone) order(apex string) {
	type named struct{ key, name string }
	var all []named
	for name, n := range z.nodes {
		if (!n.ent && !n.occluded) || name == apex {
			all = append(all, named{dnsname.Key(name), name})
		}
	}
	slices.SortFunc(all, func(a, b named) int { return strings.Compare(a.key, b.key) })
	z.names = make([]string, len(all))
	z.keys = make([]string, len(all))
	for i, a := range all {
		z.names[i], z.keys[i] = a.name, a.key
	}
}

// Neighbours returns the existing names just before and just after name in canonical order
// (RFC 4034 §6.1), wrapping around: prev of the apex is the last name, next of the last name is
// the apex. Existing names are those that own RRsets and the apex; empty non-terminals and names
// below a zone cut are not counted, the cut itself is. name itself, if it exists, is neither
// prev nor next (unless it is the only name). White-lies NSEC records (RFC 4470) use it.
func (z *Zone) Neighbours(name string) (prev, next string) {
	if len(z.keys) == 0 {
		return z.origin, z.origin
	}
	k := dnsname.Key(name)
	i := sort.SearchStrings(z.keys, k) // first key >= k
	j := i
	if j < len(z.keys) && z.keys[j] == k {
		j++
	}
	prev = z.names[(i-1+len(z.names))%len(z.names)]
	next = z.names[j%len(z.names)]
	return prev, next
}
