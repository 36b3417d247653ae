package zones

import (
	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

// maxChain bounds the CNAMEs followed in one lookup, loops included. BIND and Knot stop after a
// handful too; a resolver restarts from the last target if it wants more.
const maxChain = 8

// Lookup answers qname/qtype from the zone with the algorithm of RFC 1034 §4.3.2 (as updated by
// RFC 2181, RFC 4592 and RFC 8482). qname must be a lowercased FQDN at or below the apex; for
// any other name Lookup returns an NXDomain Result with empty sections.
//
//   - A CNAME at the name is followed inside the zone (at most maxChain times, loops stop it);
//     a chain that leaves the zone, enters a delegated child, loops or is too long ends as an
//     Answer holding the CNAMEs so far, and the resolver restarts from the last target.
//   - A name at or below a zone cut gives a Referral, except qtype DS at the cut itself, which
//     the parent answers (RFC 4035 §3.1.4.1).
//   - A missing name is answered from the wildcard "*.<closest encloser>" when it exists
//     (RFC 4592 §3.3.1), with copies of its records owned by the name.
//   - qtype ANY gets one RRset, the one with the lowest type number (RFC 8482 §4.1 lets the
//     server choose; the lowest number is deterministic and needs no per-zone policy).
//
// The exact-match path does not allocate; wildcard synthesis and CNAME chains do.
func (z *Zone) Lookup(qname string, qtype uint16) Result {
	res := Result{Name: qname, SOA: z.soa}
	if !dnsname.InZone(qname, z.origin) {
		res.Kind = NXDomain
		return res
	}
	var (
		chain []dns.RR // the CNAMEs so far; nil until the first
		seen  [maxChain]string
	)
	name := qname
	for step := 0; ; step++ {
		res.Name = name
		n, ce, cut := z.find(name, qtype)
		var next string
		switch {
		case cut != nil && step > 0:
			// The chain enters a delegated child: not our data to answer.
			return z.chainEnd(res, chain)
		case cut != nil:
			res.Kind = Referral
			res.Ns, res.Extra, res.DS = cut.refNs, cut.glue, cut.ds
			res.Cut, res.Types = cut.name, cut.types
			return res
		case n != nil:
			next = z.at(&res, &chain, n, name, qtype, false)
		case ce.wild != nil:
			res.ClosestEncloser = ce.name
			next = z.at(&res, &chain, ce.wild, name, qtype, true)
		default:
			res.Kind = NXDomain
			res.ClosestEncloser = ce.name
			res.Answer, res.Ns = capped(chain), z.neg
			return res
		}
		if next == "" {
			return res
		}
		seen[step] = name
		res.Name = next
		if step+1 >= maxChain || !dnsname.InZone(next, z.origin) || looped(seen[:step+1], next) {
			return z.chainEnd(res, chain)
		}
		name = next
	}
}

// chainEnd ends a CNAME chain that cannot go on in this zone: an Answer with the CNAMEs.
func (z *Zone) chainEnd(res Result, chain []dns.RR) Result {
	res.Kind = Answer
	res.Answer = capped(chain)
	res.Ns, res.Extra, res.Types = nil, nil, nil
	return res
}

func looped(seen []string, name string) bool {
	for _, s := range seen {
		if s == name {
			return true
		}
	}
	return false
}

// find locates name: the node that holds its data (n), or the closest encloser when the name
// does not exist (ce), or the zone cut that the name is at or below (cut). qtype DS at a cut is
// parent data, so the cut itself is returned as n then.
func (z *Zone) find(name string, qtype uint16) (n, ce, cut *node) {
	if n := z.nodes[name]; n != nil && !n.occluded {
		if n.cut && qtype != dns.TypeDS {
			return nil, nil, n
		}
		return n, nil, nil
	}
	// Walk up to the closest existing ancestor. The apex exists, and the names (substrings of
	// name) do not allocate.
	off, end := dns.NextLabel(name, 0)
	for ; !end; off, end = dns.NextLabel(name, off) {
		a := z.nodes[name[off:]]
		if a == nil {
			continue
		}
		if !a.occluded && !a.cut {
			return nil, a, nil
		}
		// At or below a cut: the referral is for the highest cut, the only one not occluded.
		for ; !end; off, end = dns.NextLabel(name, off) {
			if a := z.nodes[name[off:]]; a != nil && a.cut && !a.occluded {
				return nil, nil, a
			}
		}
		break
	}
	// Unreachable for a name inside the zone; answer as if nothing were there.
	return nil, z.nodes[z.origin], nil
}

// at answers from node n for name: n is the node of name itself, or the wildcard expanded to
// name when wild is set. It fills res and returns the CNAME target to follow, or "".
func (z *Zone) at(res *Result, chain *[]dns.RR, n *node, name string, qtype uint16, wild bool) string {
	if wild {
		res.Synth = append(res.Synth, Synth{Name: name, Wildcard: n.name})
	}
	var s *rrset
	switch {
	case qtype == dns.TypeANY && len(n.sets) > 0:
		s = &n.sets[0]
	case qtype != dns.TypeANY:
		s = n.set(qtype)
	}
	if s == nil && n.cname != "" && qtype != dns.TypeCNAME {
		cn := n.set(dns.TypeCNAME).rrs
		if wild {
			cn = synthesise(cn, name)
		}
		*chain = append(*chain, cn...)
		return n.cname
	}
	if s == nil {
		res.Kind = NoData
		res.Answer, res.Ns = capped(*chain), z.neg
		res.Types, res.ENT = n.types, n.ent
		return ""
	}
	rrs := s.rrs
	if wild {
		rrs = synthesise(rrs, name)
	}
	res.Kind = Answer
	res.Extra = s.extra
	if len(*chain) == 0 {
		res.Answer = rrs
	} else {
		res.Answer = capped(append(*chain, rrs...))
	}
	return ""
}

// synthesise copies a wildcard's records with owner name (RFC 4592 §3.4.1). The copies are
// fresh: the snapshot is never written.
func synthesise(rrs []dns.RR, name string) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		c := dns.Copy(rr)
		c.Header().Name = name
		out[i] = c
	}
	return out
}

func capped(s []dns.RR) []dns.RR { return s[:len(s):len(s)] }
