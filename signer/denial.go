package signer

import (
	"errors"
	"slices"

	"github.com/miekg/dns"
)

// Denial of existence, synthesised per response (RFC 4470 online signing).
//
// Compact (RFC 9824) and black lies answer for a missing name as if it existed with no data:
// one NSEC owned by the name, next name "\000.<name>" (its immediate successor, so the NSEC
// claims nothing about any other name), proving NODATA. RFC 9824 puts NXNAME (§2) in the bitmap
// of a missing name (§3.1) so that the difference from NODATA survives, gives an empty
// non-terminal the bitmap NSEC RRSIG (§3.2), and restores NXDOMAIN for a query with the
// Compact-answers-OK flag (§5.1). Black lies (Route 53) is the same without NXNAME and always
// NOERROR.
//
// White lies (RFC 4470) keep NXDOMAIN and cover the name with an NSEC whose ends are names that
// do not exist, built around the next closer name (see cover), plus one covering the wildcard
// at the closest encloser (RFC 4035 §3.1.3.2). A NODATA is proved by an NSEC owned by the name
// with its true types and next name "\000.<name>" (nothing lies between the two, so nothing is
// denied but the types); a wildcard NODATA by the qname's cover plus the wildcard's own NSEC
// (RFC 4035 §3.1.3.4); a wildcard answer by the qname's cover (§3.1.3.3).
//
// A delegation without DS is proved insecure by the NSEC owned by the cut with the cut's types
// (NS, no DS; RFC 4035 §3.1.4, §5.2), next name "\000.<cut>", in every mode.
//
// NSEC TTL = min(SOA TTL, SOA MINIMUM) (RFC 9077 §3; RFC 4034 §4 as updated). NSECs whose owner
// comes from the query (missing names, wildcard expansions) are cached in the denial cache;
// those owned by existing names in the main cache.

// Fixed bitmaps, sorted by type number as the NSEC wire form needs (RRSIG 46 < NSEC 47).
var (
	bitmapEmpty  = []uint16{dns.TypeRRSIG, dns.TypeNSEC}
	bitmapNXName = []uint16{dns.TypeRRSIG, dns.TypeNSEC, TypeNXNAME}
)

// denial appends the denial NSECs and their signatures to the authority section and returns
// the rcode to answer with.
func (b *builder) denial(ns []dns.RR, kind Kind, rcode int) ([]dns.RR, int, error) {
	in := b.in
	switch in.Mode {
	case NSEC:
		return b.chainDenial(ns, kind, rcode)
	case NSEC3:
		return b.hashedDenial(ns, kind, rcode)
	}
	var err error
	switch kind {
	case NoData:
		ns, err = b.noData(ns)
	case NXDomain:
		switch in.Mode {
		case Compact:
			ns, err = b.addNSEC(ns, in.Name, successor(in.Name), bitmapNXName, true)
			if !in.CompactOK {
				rcode = dns.RcodeSuccess
			}
		case BlackLies:
			ns, err = b.addNSEC(ns, in.Name, successor(in.Name), bitmapEmpty, true)
			rcode = dns.RcodeSuccess
		default:
			ns, rcode, err = b.whiteNXDomain(ns, rcode)
		}
	case Referral:
		if !in.HasDS && in.Cut != "" {
			ns, err = b.addNSEC(ns, in.Cut, successor(in.Cut), bitmap(in.Types, dns.TypeDS, dns.TypeNSEC, dns.TypeRRSIG), false)
		}
	}
	return ns, rcode, err
}

// noData proves that in.Name has no RRset of the type asked: an NSEC owned by the name with
// its types; for a white-lies wildcard NODATA, the cover of the name and the wildcard's NSEC.
func (b *builder) noData(ns []dns.RR) ([]dns.RR, error) {
	in := b.in
	wc := b.synth(in.Name)
	switch {
	case in.Mode != WhiteLies:
		return b.addNSEC(ns, in.Name, successor(in.Name), b.types(in.Name), wc != "")
	case wc == "":
		return b.addNSEC(ns, in.Name, successor(in.Name), b.types(in.Name), false)
	}
	ns, err := b.addCover(ns, in.Name, wildcardParent(wc), nil)
	if errors.Is(err, errNoCover) {
		// No range fits before the name: claim it exists without data instead.
		return b.addNSEC(ns, in.Name, successor(in.Name), b.types(in.Name), true)
	}
	if err != nil {
		return nil, err
	}
	return b.addNSEC(ns, wc, successor(wc), b.types(wc), false)
}

// whiteNXDomain proves that in.Name and the wildcard at its closest encloser do not exist.
func (b *builder) whiteNXDomain(ns []dns.RR, rcode int) ([]dns.RR, int, error) {
	in := b.in
	ce := in.ClosestEncloser
	if ce == "" {
		ce = in.Zone
	}
	mark := len(ns)
	ns, err := b.addCover(ns, in.Name, ce, nil)
	if errors.Is(err, errNoCover) {
		// in.Name is "\000.<previous name>": no name fits between the two, so no NSEC can
		// cover it without claiming the previous name's types. Answer it black-lies style.
		ns, err = b.addNSEC(ns, in.Name, successor(in.Name), bitmapEmpty, true)
		return ns, dns.RcodeSuccess, err
	}
	if err != nil {
		return nil, 0, err
	}
	wc := "*." + ce
	if ce == "." {
		wc = "*."
	}
	ns, err = b.addCover(ns, wc, ce, ns[mark:])
	return ns, rcode, err
}

// wildcardProofs appends, for each RRset of a white-lies answer synthesised from a wildcard,
// the NSEC proving that no closer match exists (RFC 4035 §3.1.3.3).
func (b *builder) wildcardProofs(ns []dns.RR) ([]dns.RR, error) {
	mark := len(ns)
	for _, sy := range b.in.Synth {
		var err error
		switch b.in.Mode {
		case NSEC:
			if ns, err = b.addLink(ns, sy.Name, ns[mark:]); err != nil {
				return nil, err
			}
			continue
		case NSEC3:
			if ns, err = b.addNSEC3(ns, nextCloser(sy.Name, wildcardParent(sy.Wildcard)), ns[mark:]); err != nil {
				return nil, err
			}
			continue
		}
		if ns, err = b.addCover(ns, sy.Name, wildcardParent(sy.Wildcard), ns[mark:]); err != nil && !errors.Is(err, errNoCover) {
			return nil, err
		}
		// errNoCover: signRRset signed that expansion as ordinary data, needing no proof.
	}
	return ns, nil
}

// addCover appends the NSEC covering name below ce, unless an identical one is among done.
func (b *builder) addCover(ns []dns.RR, name, ce string, done []dns.RR) ([]dns.RR, error) {
	owner, next, err := cover(b.in.Names, name, ce)
	if err != nil {
		return ns, err
	}
	for _, rr := range done {
		if n, ok := rr.(*dns.NSEC); ok && n.Hdr.Name == owner && n.NextDomain == next {
			return ns, nil
		}
	}
	return b.addNSEC(ns, owner, next, bitmapEmpty, true)
}

// types returns the NSEC bitmap for an existing name (or empty non-terminal): its types plus
// NSEC and RRSIG, and at the apex the ring's DNSKEY, CDS and CDNSKEY.
func (b *builder) types(name string) []uint16 {
	var extra []uint16
	if name == b.in.Zone {
		extra = append(extra, dns.TypeDNSKEY)
		if len(b.ring.cds) > 0 {
			extra = append(extra, dns.TypeCDS)
		}
		if len(b.ring.cdnskey) > 0 {
			extra = append(extra, dns.TypeCDNSKEY)
		}
	}
	var t []uint16
	if !b.in.ENT {
		t = b.in.Types
	}
	return bitmap(append(append(extra, t...), dns.TypeNSEC, dns.TypeRRSIG), 0)
}

// bitmap returns types sorted and without duplicates, without drop (0 drops nothing).
func bitmap(types []uint16, drop uint16, add ...uint16) []uint16 {
	out := make([]uint16, 0, len(types)+len(add))
	for _, t := range append(slices.Clip(types), add...) {
		if t != drop || drop == 0 {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// addNSEC appends an NSEC and its signatures.
func (b *builder) addNSEC(ns []dns.RR, owner, next string, types []uint16, volatile bool) ([]dns.RR, error) {
	soa := b.in.SOA
	if soa == nil {
		return nil, ErrNoSOA
	}
	nsec := newNSEC(soa, owner, next, types)
	ns = append(ns, nsec)
	return b.signWith(ns, []dns.RR{nsec}, owner, volatile)
}

// newNSEC builds an NSEC record with the TTL of negative answers (RFC 9077 §3).
func newNSEC(soa *dns.SOA, owner, next string, types []uint16) *dns.NSEC {
	return &dns.NSEC{
		Hdr:        dns.RR_Header{Name: owner, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: min(soa.Hdr.Ttl, soa.Minttl)},
		NextDomain: next,
		TypeBitMap: types,
	}
}
