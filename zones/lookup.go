package zones

import (
	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

// maxChain bounds the CNAMEs followed in one lookup, loops included. BIND and Knot stop after a
// handful too; a resolver restarts from the last target if it wants more.
const maxChain = 8

// Lookup answers qname/qtype from the zone with the algorithm of RFC 1034 §4.3.2 (as updated by
// RFC 2181, RFC 4592, RFC 6672 and RFC 8482). qname must be a lowercased FQDN at or below the
// apex; for any other name Lookup returns an NXDomain Result with empty sections.
//
//   - A CNAME at the name is followed inside the zone (at most maxChain times, loops stop it);
//     a chain that leaves the zone, enters a delegated child, loops or is too long ends as an
//     Answer holding the CNAMEs so far, and the resolver restarts from the last target.
//   - A name below a DNAME owner is redirected (RFC 6672 §3.2): the DNAME RRset and a CNAME
//     synthesised from it join the chain, which goes on at the substituted name like any CNAME
//     target; the outcome is that of the final target. The owner itself is answered as any name.
//   - A name at or below a zone cut gives a Referral, except qtype DS at the cut itself, which
//     the parent answers (RFC 4035 §3.1.4.1).
//   - A missing name is answered from the wildcard "*.<closest encloser>" when it exists
//     (RFC 4592 §3.3.1), with copies of its records owned by the name.
//   - qtype ANY gets one RRset, the one with the lowest type number (RFC 8482 §4.1 lets the
//     server choose; the lowest number is deterministic and needs no per-zone policy).
//
// The exact-match path does not allocate; wildcard synthesis, CNAME chains and DNAME
// redirections do.
func (z *Zone) Lookup(qname string, qtype uint16) Result {
	res := Result{Name: qname, SOA: z.soa}
	if !dnsname.InZone(qname, z.origin) {
		res.Kind = NXDomain
		return res
	}
	var (
		chain []dns.RR // the CNAMEs (and DNAMEs) so far; nil until the first
		seen  [maxChain]string
	)
	name := qname
	for step := 0; ; step++ {
		res.Name = name
		next, done := z.resolve(&res, &chain, name, qtype, step > 0)
		if done {
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

// resolve takes one step of a lookup: it answers name from the zone into res, or returns the
// target of the CNAME or DNAME redirection to follow next. redirected says that name is itself
// the target of one.
func (z *Zone) resolve(res *Result, chain *[]dns.RR, name string, qtype uint16, redirected bool) (next string, done bool) {
	f := z.find(name, qtype)
	switch {
	case f.cut != nil && redirected:
		// The chain enters a delegated child: not our data to answer.
		*res = z.chainEnd(*res, *chain)
		return "", true
	case f.cut != nil:
		res.Kind = Referral
		ref := z.referral(f.cut)
		res.Ns, res.Extra, res.DS = ref.rrs, ref.extra, ref.ds
		res.Cut, res.Types = z.nameOf(f.cut), z.typesOf(f.cut)
		return "", true
	case f.dname != nil:
		return z.redirect(res, chain, f.dname, name)
	case f.n != nil:
		next = z.at(res, chain, f.n, name, qtype, false)
	case f.ce.wild != 0:
		res.ClosestEncloser = z.nameOf(f.ce)
		next = z.at(res, chain, &z.nodes[f.ce.wild-1], name, qtype, true)
	default:
		res.Kind = NXDomain
		res.ClosestEncloser = z.nameOf(f.ce)
		res.Answer, res.Ns = capped(*chain), z.neg
		return "", true
	}
	return next, next == ""
}

// chainEnd ends a CNAME chain that cannot go on in this zone: an Answer with the CNAMEs.
func (z *Zone) chainEnd(res Result, chain []dns.RR) Result {
	res.Kind = Answer
	res.Answer = capped(chain)
	res.Ns, res.Extra, res.Types = nil, nil, nil
	return res
}

// redirect follows the DNAME at n for name, which lies below n (RFC 6672 §3.2): the DNAME
// RRset and a CNAME synthesised from it, with the DNAME's TTL (§3.1), join the chain, and the
// CNAME's target is returned to be followed. A name that substitution makes longer than 255
// octets ends the lookup as an Answer with YXDomain set (§2.2).
func (z *Zone) redirect(res *Result, chain *[]dns.RR, n *node, name string) (string, bool) {
	d := z.decode(n, z.set(n, dns.TypeDNAME))
	dname := d.rrs
	*chain = append(*chain, dname...)
	target, ok := substitute(name, z.nameOf(n), d.target)
	if !ok {
		*res = z.chainEnd(*res, *chain)
		res.YXDomain = true
		return "", true
	}
	*chain = append(*chain, &dns.CNAME{
		Hdr:    dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: dname[0].Header().Ttl},
		Target: target,
	})
	return target, false
}

// substitute replaces the suffix owner of name by target (RFC 6672 §2.2); ok is false when the
// result is not a valid name (longer than 255 octets in wire form).
func substitute(name, owner, target string) (string, bool) {
	prefix := name[:len(name)-len(owner)] // the labels below owner, with their final dot
	out := prefix + target
	if target == "." {
		out = prefix
	}
	var buf [256]byte
	if _, err := dns.PackDomainName(out, buf[:], 0, nil, false); err != nil {
		return "", false
	}
	return out, true
}

func looped(seen []string, name string) bool {
	for _, s := range seen {
		if s == name {
			return true
		}
	}
	return false
}

// found is where find located a name: the node that holds its data (n), or the closest
// encloser when the name does not exist (ce), or the zone cut that the name is at or below
// (cut), or the DNAME owner that the name is below (dname). One is set, ce possibly with n.
type found struct {
	n, ce, cut, dname *node
}

// find locates name. qtype DS at a cut is parent data, so the cut itself is n then.
func (z *Zone) find(name string, qtype uint16) found {
	if n := z.node(name); n != nil && !n.occluded {
		if n.cut && qtype != dns.TypeDS {
			return found{cut: n}
		}
		return found{n: n}
	}
	// Walk up to the closest existing ancestor. The apex exists, and the names (substrings of
	// name) do not allocate.
	off, end := dns.NextLabel(name, 0)
	for ; !end; off, end = dns.NextLabel(name, off) {
		a := z.node(name[off:])
		switch {
		case a == nil:
			continue
		case !a.occluded && !a.cut && a.dname:
			return found{dname: a}
		case !a.occluded && !a.cut:
			return found{ce: a}
		}
		return z.hider(name, off, a)
	}
	// Unreachable for a name inside the zone; answer as if nothing were there.
	return found{ce: z.node(z.origin)}
}

// hider finds, for a name below a cut or a DNAME, the one that hides it: the highest, the only
// one not occluded itself. a is the node of the ancestor at offset off, at or below it.
func (z *Zone) hider(name string, off int, a *node) found {
	for end := false; ; {
		switch {
		case a == nil || a.occluded:
		case a.cut:
			return found{cut: a}
		case a.dname:
			return found{dname: a}
		}
		if off, end = dns.NextLabel(name, off); end {
			return found{ce: z.node(z.origin)}
		}
		a = z.node(name[off:])
	}
}

// at answers from node n for name: n is the node of name itself, or the wildcard expanded to
// name when wild is set. It fills res and returns the CNAME target to follow, or "".
func (z *Zone) at(res *Result, chain *[]dns.RR, n *node, name string, qtype uint16, wild bool) string {
	if wild {
		res.Synth = append(res.Synth, Synth{Name: name, Wildcard: z.nameOf(n)})
	}
	var s *rrset
	switch {
	case qtype == dns.TypeANY && n.nsets > 0:
		s = &z.sets[n.first]
	case qtype != dns.TypeANY:
		s = z.set(n, qtype)
	}
	if c := z.set(n, dns.TypeCNAME); s == nil && c != nil && qtype != dns.TypeCNAME {
		d := z.decode(n, c)
		cn, target := d.rrs, d.target
		if wild {
			cn = synthesise(cn, name)
		}
		*chain = append(*chain, cn...)
		return target
	}
	if s == nil {
		res.Kind = NoData
		res.Answer, res.Ns = capped(*chain), z.neg
		res.Types, res.ENT = z.typesOf(n), n.ent
		return ""
	}
	d := z.decode(n, s)
	rrs := d.rrs
	if wild {
		rrs = synthesise(rrs, name)
	}
	res.Kind = Answer
	res.Extra = d.extra
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
