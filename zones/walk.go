package zones

import (
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
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
	type named struct{ key, name string }
	all := make([]named, 0, len(z.nodes))
	for name, n := range z.nodes {
		if len(n.sets) > 0 {
			all = append(all, named{dnsname.Key(name), name})
		}
	}
	slices.SortFunc(all, func(a, b named) int { return strings.Compare(a.key, b.key) })
	apex := z.nodes[z.origin]
	fn(unpack(z.wire, apex.name, apex.set(dns.TypeSOA)), true)
	for _, a := range all {
		n := z.nodes[a.name]
		for i := range n.sets {
			s := &n.sets[i]
			if s.typ == dns.TypeSOA && n == apex {
				continue
			}
			auth := !n.occluded && (!n.cut || s.typ == dns.TypeDS)
			fn(unpack(z.wire, n.name, s), auth)
		}
	}
}

// Cover returns the NSEC chain link (RFC 4034 §4) that proves name: owner is the last name of
// the chain at or before name in canonical order (name itself when it owns authoritative data
// or is the apex), next the name after owner, wrapping to the apex. The chain holds the names
// that Neighbours counts: owners of authoritative data and cuts; not empty non-terminals, not
// names below a cut.
func (z *Zone) Cover(name string) (owner, next string) {
	if len(z.names) == 0 {
		return z.origin, z.origin
	}
	i, found := z.searchChain(name)
	if found {
		return z.names[i], z.names[(i+1)%len(z.names)]
	}
	i = (i - 1 + len(z.names)) % len(z.names)
	return z.names[i], z.names[(i+1)%len(z.names)]
}

// ChainTypes returns the types an NSEC owned by a chain name lists from the zone (without NSEC,
// RRSIG and the signer's apex key sets): the types at the name; at a cut only NS and DS, the
// rest there being glue (RFC 4035 §2.3).
func (z *Zone) ChainTypes(owner string) []uint16 {
	n := z.nodes[owner]
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
