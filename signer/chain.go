package signer

import (
	"errors"
	"time"

	"github.com/miekg/dns"
)

// NSEC mode: answers come from the zone's real NSEC chain (RFC 4035 §3.1.3). Every NSEC is
// owned by an existing name and built by chainNSEC alone, so the record in an online answer is
// byte for byte the one in the signed zone transferred to secondaries (ZoneNSEC), and one
// cached signature serves both and every query the link covers.
//
//   - NODATA at a chain name: its NSEC. At an empty non-terminal: the NSEC covering it, whose
//     next name lies below it (RFC 4035 §3.1.3.2 as validators apply it).
//   - Missing name: the NSEC covering the name and the one covering the wildcard at the
//     closest encloser (the same record once when one link covers both); NXDOMAIN.
//   - Wildcard answer: the RRSIG of the wildcard (Labels without the "*") and the NSEC
//     covering the query name; wildcard NODATA: that plus the wildcard's own NSEC.
//   - Referral without DS: the cut's NSEC (NS, RRSIG, NSEC).

var errNoChain = errors.New("signer: NSEC mode needs Input.Names to be a Chain")

func (b *builder) chain() (Chain, error) {
	ch, ok := b.in.Names.(Chain)
	if !ok {
		return nil, errNoChain
	}
	return ch, nil
}

// chainDenial is denial for NSEC mode.
func (b *builder) chainDenial(ns []dns.RR, kind Kind, rcode int) ([]dns.RR, int, error) {
	in := b.in
	var err error
	switch kind {
	case NoData:
		mark := len(ns)
		if wc := b.synth(in.Name); wc != "" {
			if ns, err = b.addLink(ns, in.Name, nil); err != nil {
				return nil, 0, err
			}
			ns, err = b.addLink(ns, wc, ns[mark:])
		} else {
			ns, err = b.addLink(ns, in.Name, nil)
		}
	case NXDomain:
		mark := len(ns)
		if ns, err = b.addLink(ns, in.Name, nil); err != nil {
			return nil, 0, err
		}
		ce := in.ClosestEncloser
		if ce == "" {
			ce = in.Zone
		}
		wc := "*." + ce
		if ce == "." {
			wc = "*."
		}
		ns, err = b.addLink(ns, wc, ns[mark:])
	case Referral:
		if !in.HasDS && in.Cut != "" {
			ns, err = b.addLink(ns, in.Cut, nil)
		}
	}
	return ns, rcode, err
}

// addLink appends the chain NSEC that proves name (its own, or the one covering it), unless
// the same link is among done.
func (b *builder) addLink(ns []dns.RR, name string, done []dns.RR) ([]dns.RR, error) {
	ch, err := b.chain()
	if err != nil {
		return nil, err
	}
	if b.in.SOA == nil {
		return nil, ErrNoSOA
	}
	owner, next := ch.Cover(name)
	for _, rr := range done {
		if n, ok := rr.(*dns.NSEC); ok && n.Hdr.Name == owner {
			return ns, nil
		}
	}
	nsec := linkNSEC(ch, b.in.Zone, b.in.SOA, b.ring, owner, next)
	ns = append(ns, nsec)
	return b.signWith(ns, []dns.RR{nsec}, owner, false)
}

// chainNSEC builds the NSEC owned by chain name owner: the next chain name, and a bitmap of
// the zone's types there plus RRSIG and NSEC, and at the apex the ring's key sets.
func chainNSEC(ch Chain, zone string, soa *dns.SOA, ring *KeyRing, owner string) *dns.NSEC {
	_, next := ch.Cover(owner)
	return linkNSEC(ch, zone, soa, ring, owner, next)
}

// linkNSEC is chainNSEC for a link whose next name is known (a search of the chain saved).
func linkNSEC(ch Chain, zone string, soa *dns.SOA, ring *KeyRing, owner, next string) *dns.NSEC {
	types := append([]uint16(nil), ch.ChainTypes(owner)...)
	if owner == zone {
		types = append(types, dns.TypeDNSKEY)
		if len(ring.cds) > 0 {
			types = append(types, dns.TypeCDS)
		}
		if len(ring.cdnskey) > 0 {
			types = append(types, dns.TypeCDNSKEY)
		}
	}
	return newNSEC(soa, owner, next, bitmap(types, 0, dns.TypeNSEC, dns.TypeRRSIG))
}

// ZoneNSEC returns the NSEC record of the chain name owner, exactly as NSEC-mode answers carry
// it; a signed zone transfer holds one per chain name, signed with SignRRset.
func ZoneNSEC(ch Chain, zone string, soa *dns.SOA, ring *KeyRing, owner string) *dns.NSEC {
	return chainNSEC(ch, zone, soa, ring, owner)
}

// SignRRset returns the RRSIGs over one authoritative RRset of ring's zone, as an online answer
// carries them: by each active ZSK, or for the apex DNSKEY, CDS and CDNSKEY RRsets by each
// active KSK (pre-made signatures first). Signatures come from and go to the cache, so signing
// a whole zone again after a change re-signs only what changed. Safe for concurrent use.
func (s *Signer) SignRRset(set []dns.RR, ring *KeyRing, now time.Time) ([]dns.RR, error) {
	if ring == nil {
		return nil, errors.New("signer: no key ring")
	}
	if len(set) == 0 {
		return nil, nil
	}
	b := builder{s: s, in: &Input{Zone: ring.zone}, ring: ring, now: now}
	return b.signRRset(nil, set)
}
