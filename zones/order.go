package zones

import (
	"bytes"
	"slices"
	"sort"

	"github.com/signetdns/signet/internal/dnsname"
)

// order lists the names Neighbours walks: owners of RRsets served as authoritative data (the
// cuts included, what lies below them excluded) and the apex.
func (z *Zone) order() {
	z.chain = z.chain[:0]
	for i := range z.nodes {
		n := &z.nodes[i]
		if (!n.ent && !n.occluded) || uint32(i) == n.parent {
			z.chain = append(z.chain, uint32(i))
		}
	}
	z.chain = slices.Clip(z.chain)
	z.sortCanonical(z.chain)
}

// chainName returns the name of the i-th node of the chain.
func (z *Zone) chainName(i int) string { return z.nameOf(&z.nodes[z.chain[i]]) }

// search returns the index of the first name in z.chain at or after name in canonical order,
// and whether it is name itself. It makes the keys it compares on the stack.
func (z *Zone) search(name string) (int, bool) {
	var kbuf, nbuf [512]byte
	k := dnsname.AppendKey(kbuf[:0], name)
	i := sort.Search(len(z.chain), func(i int) bool {
		return bytes.Compare(dnsname.AppendKey(nbuf[:0], z.chainName(i)), k) >= 0
	})
	return i, i < len(z.chain) && bytes.Equal(dnsname.AppendKey(nbuf[:0], z.chainName(i)), k)
}

// Hides reports whether name is a zone cut or a DNAME owner served here: everything below it
// is occluded, so no denial may start below it.
func (z *Zone) Hides(name string) bool {
	n := z.node(name)
	return n != nil && !n.occluded && (n.cut || n.dname)
}

// Glue reports whether the address records at name are not the zone's authoritative data: at
// or below a zone cut (glue, the child's), or below a DNAME owner. Such records are never
// signed (RFC 4035 §2.2). An unknown name counts as glue, so nothing is signed by mistake.
func (z *Zone) Glue(name string) bool {
	n := z.node(name)
	return n == nil || n.occluded || n.cut
}

// Neighbours returns the existing names just before and just after name in canonical order
// (RFC 4034 §6.1), wrapping around: prev of the apex is the last name, next of the last name is
// the apex. Existing names are those that own RRsets and the apex; empty non-terminals and names
// below a zone cut are not counted, the cut itself is. name itself, if it exists, is neither
// prev nor next (unless it is the only name). White-lies NSEC records (RFC 4470) use it.
func (z *Zone) Neighbours(name string) (prev, next string) {
	if len(z.chain) == 0 {
		return z.origin, z.origin
	}
	i, found := z.search(name) // first name >= name
	j := i
	if found {
		j++
	}
	prev = z.chainName((i - 1 + len(z.chain)) % len(z.chain))
	next = z.chainName(j % len(z.chain))
	return prev, next
}
