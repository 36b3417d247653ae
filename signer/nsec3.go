package signer

import (
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// NSEC3 mode (RFC 5155 §7.2) with the parameters RFC 9276 asks for: hash 1 (SHA-1), flags 0
// (no opt-out), 0 additional iterations, empty salt. The chain is built once per zone snapshot
// (kept with it through Memo) and every NSEC3 record comes from nsec3At, so an online answer
// and the signed zone transferred to secondaries hold identical records and share cached
// signatures.
//
//   - Missing name: the closest encloser proof (the NSEC3 matching the closest encloser and the
//     one covering the next closer name) plus the NSEC3 covering the wildcard at the closest
//     encloser (§7.2.2); NXDOMAIN.
//   - NODATA, also at an empty non-terminal or for DS at a cut: the NSEC3 matching the name
//     (§7.2.3, §7.2.4).
//   - Wildcard answer: the NSEC3 covering the next closer name (§7.2.6); wildcard NODATA: the
//     closest encloser proof and the NSEC3 matching the wildcard (§7.2.5).
//   - Referral without DS: the NSEC3 matching the cut.

// NSEC3PARAM returns the zone's NSEC3PARAM record in NSEC3 mode (RFC 9276 parameters). Its
// TTL is 0, as RFC 5155 §4 suggests for a record only signers read.
func NSEC3PARAM(zone string) *dns.NSEC3PARAM {
	return &dns.NSEC3PARAM{
		Hdr:  dns.RR_Header{Name: zone, Rrtype: dns.TypeNSEC3PARAM, Class: dns.ClassINET, Ttl: 0},
		Hash: dns.SHA1,
	}
}

var errNoHashedChain = errors.New("signer: NSEC3 mode needs Input.Names to be a HashedChain")

// hashedChain is a zone's NSEC3 chain: the hashed names sorted (base32hex keeps the order of
// the hashes), with the name each came from.
type hashedChain struct {
	hashes []string // upper-case base32hex, sorted
	names  []string
	ent    []bool
}

type hashedChainKey struct{}

func hashOf(name string) string { return dns.HashName(name, dns.SHA1, 0, "") }

func chainOf(src HashedChain) *hashedChain {
	return src.Memo(hashedChainKey{}, func() any {
		type entry struct {
			hash, name string
			ent        bool
		}
		var all []entry
		src.HashedNames(func(name string, ent bool) {
			all = append(all, entry{hashOf(name), name, ent})
		})
		slices.SortFunc(all, func(a, b entry) int { return strings.Compare(a.hash, b.hash) })
		c := &hashedChain{hashes: make([]string, len(all)), names: make([]string, len(all)), ent: make([]bool, len(all))}
		for i, e := range all {
			c.hashes[i], c.names[i], c.ent[i] = e.hash, e.name, e.ent
		}
		return c
	}).(*hashedChain)
}

// find returns the index of the NSEC3 that matches name (ok) or else covers it.
func (c *hashedChain) find(name string) (i int, ok bool) {
	h := hashOf(name)
	i = sort.SearchStrings(c.hashes, h)
	if i < len(c.hashes) && c.hashes[i] == h {
		return i, true
	}
	return (i - 1 + len(c.hashes)) % len(c.hashes), false
}

// nsec3At builds the NSEC3 record of chain entry i.
func nsec3At(src HashedChain, c *hashedChain, zone string, soa *dns.SOA, ring *KeyRing, i int) *dns.NSEC3 {
	var types []uint16
	if !c.ent[i] {
		name := c.names[i]
		types = append(types, src.ChainTypes(name)...)
		// RRSIG when the name owns signed RRsets: everything but an insecure cut's NS.
		if !(len(types) == 1 && types[0] == dns.TypeNS && name != zone) {
			types = append(types, dns.TypeRRSIG)
		}
		if name == zone {
			types = append(types, dns.TypeDNSKEY, dns.TypeNSEC3PARAM)
			if len(ring.cds) > 0 {
				types = append(types, dns.TypeCDS)
			}
			if len(ring.cdnskey) > 0 {
				types = append(types, dns.TypeCDNSKEY)
			}
		}
	}
	return &dns.NSEC3{
		Hdr:        dns.RR_Header{Name: strings.ToLower(c.hashes[i]) + "." + zone, Rrtype: dns.TypeNSEC3, Class: dns.ClassINET, Ttl: min(soa.Hdr.Ttl, soa.Minttl)},
		Hash:       dns.SHA1,
		HashLength: 20,
		NextDomain: c.hashes[(i+1)%len(c.hashes)],
		TypeBitMap: bitmap(types, 0),
	}
}

// ZoneNSEC3 returns the zone's whole NSEC3 chain, one record per hashed name, exactly as
// NSEC3-mode answers carry them, for a signed zone transfer (with NSEC3PARAM at the apex).
func ZoneNSEC3(src HashedChain, zone string, soa *dns.SOA, ring *KeyRing) []*dns.NSEC3 {
	c := chainOf(src)
	out := make([]*dns.NSEC3, len(c.hashes))
	for i := range c.hashes {
		out[i] = nsec3At(src, c, zone, soa, ring, i)
	}
	return out
}

func (b *builder) hashed() (HashedChain, *hashedChain, error) {
	src, ok := b.in.Names.(HashedChain)
	if !ok {
		return nil, nil, errNoHashedChain
	}
	if b.in.SOA == nil {
		return nil, nil, ErrNoSOA
	}
	c := chainOf(src)
	if len(c.hashes) == 0 {
		return nil, nil, errors.New("signer: empty NSEC3 chain")
	}
	return src, c, nil
}

// addNSEC3 appends the NSEC3 that matches (or covers) name and its signatures, unless it is
// among done.
func (b *builder) addNSEC3(ns []dns.RR, name string, done []dns.RR) ([]dns.RR, error) {
	src, c, err := b.hashed()
	if err != nil {
		return nil, err
	}
	i, _ := c.find(name)
	rec := nsec3At(src, c, b.in.Zone, b.in.SOA, b.ring, i)
	for _, rr := range done {
		if n, ok := rr.(*dns.NSEC3); ok && n.Hdr.Name == rec.Hdr.Name {
			return ns, nil
		}
	}
	ns = append(ns, rec)
	return b.signWith(ns, []dns.RR{rec}, rec.Hdr.Name, false)
}

// closestEncloserProof appends the NSEC3 matching ce and the one covering the next closer name.
func (b *builder) closestEncloserProof(ns []dns.RR, name, ce string, done []dns.RR) ([]dns.RR, error) {
	mark := len(ns)
	ns, err := b.addNSEC3(ns, ce, done)
	if err != nil {
		return nil, err
	}
	return b.addNSEC3(ns, nextCloser(name, ce), append(slices.Clip(done), ns[mark:]...))
}

// hashedDenial is denial for NSEC3 mode.
func (b *builder) hashedDenial(ns []dns.RR, kind Kind, rcode int) ([]dns.RR, int, error) {
	in := b.in
	mark := len(ns)
	var err error
	switch kind {
	case NoData:
		if wc := b.synth(in.Name); wc != "" {
			ce := wildcardParent(wc)
			if ns, err = b.closestEncloserProof(ns, in.Name, ce, nil); err != nil {
				return nil, 0, err
			}
			ns, err = b.addNSEC3(ns, wc, ns[mark:])
		} else {
			ns, err = b.addNSEC3(ns, in.Name, nil)
		}
	case NXDomain:
		ce := in.ClosestEncloser
		if ce == "" {
			ce = in.Zone
		}
		if ns, err = b.closestEncloserProof(ns, in.Name, ce, nil); err != nil {
			return nil, 0, err
		}
		ns, err = b.addNSEC3(ns, "*."+ce, ns[mark:])
	case Referral:
		if !in.HasDS && in.Cut != "" {
			ns, err = b.addNSEC3(ns, in.Cut, nil)
		}
	}
	return ns, rcode, err
}
