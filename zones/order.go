package zones

import (
	"bytes"
	"slices"
	"sort"

	"github.com/signetdns/signet/internal/dnsname"
)

// order lists the names Neighbours walks: owners of RRsets served as authoritative data (the
// cuts included, what lies below them excluded) and the apex. The sort keys are made once, in
// one buffer, and dropped after the sort: a search makes the keys it compares on the stack.
func (z *Zone) order(apex string) {
	var (
		keys  []byte
		names []string
		ends  []int
	)
	for name, n := range z.nodes {
		if (!n.ent && !n.occluded) || name == apex {
			keys = dnsname.AppendKey(keys, name)
			ends = append(ends, len(keys))
			names = append(names, name)
		}
	}
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	key := func(i int) []byte {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		return keys[start:ends[i]]
	}
	slices.SortFunc(idx, func(a, b int) int { return bytes.Compare(key(a), key(b)) })
	z.names = make([]string, len(idx))
	for i, j := range idx {
		z.names[i] = names[j]
	}
}

// search returns the index of the first name in z.names at or after name in canonical order,
// and whether it is name itself.
func (z *Zone) search(name string) (int, bool) {
	var kbuf, nbuf [512]byte
	k := dnsname.AppendKey(kbuf[:0], name)
	i := sort.Search(len(z.names), func(i int) bool {
		return bytes.Compare(dnsname.AppendKey(nbuf[:0], z.names[i]), k) >= 0
	})
	return i, i < len(z.names) && bytes.Equal(dnsname.AppendKey(nbuf[:0], z.names[i]), k)
}

// Hides reports whether name is a zone cut or a DNAME owner served here: everything below it
// is occluded, so no denial may start below it.
func (z *Zone) Hides(name string) bool {
	n := z.nodes[name]
	return n != nil && !n.occluded && (n.cut || n.dname)
}

// Glue reports whether the address records at name are not the zone's authoritative data: at
// or below a zone cut (glue, the child's), or below a DNAME owner. Such records are never
// signed (RFC 4035 §2.2). An unknown name counts as glue, so nothing is signed by mistake.
func (z *Zone) Glue(name string) bool {
	n := z.nodes[name]
	return n == nil || n.occluded || n.cut
}

// Neighbours returns the existing names just before and just after name in canonical order
// (RFC 4034 §6.1), wrapping around: prev of the apex is the last name, next of the last name is
// the apex. Existing names are those that own RRsets and the apex; empty non-terminals and names
// below a zone cut are not counted, the cut itself is. name itself, if it exists, is neither
// prev nor next (unless it is the only name). White-lies NSEC records (RFC 4470) use it.
func (z *Zone) Neighbours(name string) (prev, next string) {
	if len(z.names) == 0 {
		return z.origin, z.origin
	}
	i, found := z.search(name) // first name >= name
	j := i
	if found {
		j++
	}
	prev = z.names[(i-1+len(z.names))%len(z.names)]
	next = z.names[j%len(z.names)]
	return prev, next
}
