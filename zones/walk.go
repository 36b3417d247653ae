package zones

import (
	"github.com/miekg/dns"
)

// Walk calls fn for every RRset of the zone, names in canonical order (RFC 4034 §6.1) and
// types in numeric order at each name, SOA first. auth is false for the RRsets that are not
// authoritative data: the NS RRset at a zone cut, anything else at a cut but its DS, and
// everything below a cut (glue). Those are transferred but never signed (RFC 4035 §2.2). The
// records belong to the snapshot: fn must not modify them.
func (z *Zone) Walk(fn func(set []dns.RR, auth bool)) {
	if !z.Available() {
		return
	}
	all := make([]uint32, 0, z.owners)
	for i := range z.nodes {
		if z.nodes[i].nsets > 0 {
			all = append(all, uint32(i))
		}
	}
	z.sortCanonical(all)
	apex := z.node(z.origin)
	fn(unpack(z.wire, z.origin, z.set(apex, dns.TypeSOA)), true)
	for _, i := range all {
		n := &z.nodes[i]
		name := z.nameOf(n)
		for _, s := range z.setsOf(n) {
			if s.typ == dns.TypeSOA && n == apex {
				continue
			}
			auth := !n.occluded && (!n.cut || s.typ == dns.TypeDS)
			fn(unpack(z.wire, name, &s), auth)
		}
	}
}

// Cover returns the NSEC chain link (RFC 4034 §4) that proves name: owner is the last name of
// the chain at or before name in canonical order (name itself when it owns authoritative data
// or is the apex), next the name after owner, wrapping to the apex. The chain holds the names
// that Neighbours counts: owners of authoritative data and cuts; not empty non-terminals, not
// names below a cut.
func (z *Zone) Cover(name string) (owner, next string) {
	if len(z.chain) == 0 {
		return z.origin, z.origin
	}
	i, found := z.searchChain(name)
	if found {
		return z.chainName(i), z.chainName((i + 1) % len(z.chain))
	}
	i = (i - 1 + len(z.chain)) % len(z.chain)
	return z.chainName(i), z.chainName((i + 1) % len(z.chain))
}

// ChainTypes returns the types an NSEC owned by a chain name lists from the zone (without NSEC,
// RRSIG and the signer's apex key sets): the types at the name; at a cut only NS and DS, the
// rest there being glue (RFC 4035 §2.3).
func (z *Zone) ChainTypes(owner string) []uint16 {
	n := z.node(owner)
	if n == nil {
		return nil
	}
	if n.cut {
		var t []uint16
		for _, typ := range z.typesOf(n) {
			if typ == dns.TypeNS || typ == dns.TypeDS {
				t = append(t, typ)
			}
		}
		return t
	}
	return z.typesOf(n)
}
