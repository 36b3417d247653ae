package signer

import (
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

// ErrNoSOA is returned when a negative answer must be signed but Input.SOA is nil.
var ErrNoSOA = errors.New("signer: Input.SOA is needed for denial of existence")

// builder carries one Sign call's arguments through its steps.
type builder struct {
	s    *Signer
	in   *Input
	ring *KeyRing
	now  time.Time
}

// Sign completes m, the unsigned response that the zone lookup described by in produced, for
// ring's zone at now:
//
//   - a NODATA for DNSKEY, CDS or CDNSKEY at the apex becomes an answer with the ring's RRset
//     (with or without DO: the keys live in the ring, not in the zone file);
//   - with in.DO: an RRSIG by each active ZSK for every RRset of the answer and authority
//     sections (RFC 4035 §3.1.1; the key RRsets by each active KSK), and for the zone's own
//     addresses in the additional section (see additional), except the NS RRset of a
//     referral and additional-section glue, which are not authoritative (RFC 4035 §3.1.4); and
//     the NSEC records that deny what the answer denies, in in.Mode (see denial.go).
//
// m's records belong to the zone snapshot and are never modified: Sign builds new section
// slices. RRSIGs may be shared with other responses through the cache; callers must not
// modify them either. On error m is left exactly as it was (no half-signed answer): the
// server answers SERVFAIL.
func (s *Signer) Sign(m *dns.Msg, in *Input, ring *KeyRing, now time.Time) error {
	if err := s.sign(m, in, ring, now); err != nil {
		s.failures.Add(1)
		return err
	}
	return nil
}

func (s *Signer) sign(m *dns.Msg, in *Input, ring *KeyRing, now time.Time) error {
	if ring == nil {
		return errors.New("signer: no key ring")
	}
	answer, ns, kind, rcode := apexSets(m, in, ring)
	if !in.DO {
		m.Answer, m.Ns, m.Rcode = answer, ns, rcode
		return nil
	}
	b := builder{s: s, in: in, ring: ring, now: now}
	outA, outNs, rcode, err := b.signSections(answer, ns, kind, rcode)
	if err != nil {
		return err
	}
	outX, err := b.additional(m.Extra, kind)
	if err != nil {
		return err
	}
	m.Answer, m.Ns, m.Extra, m.Rcode = outA, outNs, outX, rcode
	return nil
}

// additional returns the additional section with an RRSIG after every authoritative RRset
// (the in-zone addresses of NS, MX, SRV, SVCB and HTTPS targets), RFC 4035 §3.1.1. Glue is
// not authoritative (§2.2): a referral's additional section, and addresses at or below a zone
// cut or a DNAME owner, stay unsigned. The OPT, when present, stays last. The section is
// returned as it is when there is nothing to sign.
func (b *builder) additional(extra []dns.RR, kind Kind) ([]dns.RR, error) {
	g, ok := b.in.Names.(Gluer)
	if !ok || kind == Referral {
		return extra, nil
	}
	n := 0
	for _, rr := range extra {
		if h := rr.Header(); h.Rrtype != dns.TypeOPT && h.Rrtype != dns.TypeRRSIG {
			n++
		}
	}
	if n == 0 {
		return extra, nil
	}
	out := make([]dns.RR, 0, len(extra)+2*n)
	var opt []dns.RR
	for _, rr := range extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			opt = append(opt, rr)
		} else {
			out = append(out, rr)
		}
	}
	recs := out[:len(out):len(out)]
	for i, rr := range recs {
		h := rr.Header()
		if h.Rrtype == dns.TypeRRSIG || seen(recs[:i], h) || g.Glue(h.Name) || !dnsname.InZone(h.Name, b.in.Zone) {
			continue
		}
		var err error
		if out, err = b.signWith(out, rrset(recs, i), h.Name, false); err != nil {
			return nil, err
		}
	}
	return append(out, opt...), nil
}

// apexSets turns a NODATA for DNSKEY, CDS or CDNSKEY at the apex into an answer with the ring's
// RRset (the keys live in the ring, not in the zone file), and one for NSEC3PARAM in NSEC3 mode
// into an answer with the signer's parameters. It returns the sections, outcome and rcode to
// sign.
func apexSets(m *dns.Msg, in *Input, ring *KeyRing) (answer, ns []dns.RR, kind Kind, rcode int) {
	answer, ns, kind, rcode = m.Answer, m.Ns, in.Kind, m.Rcode
	if kind == NoData && in.Name == in.Zone && isKeyType(in.QType) {
		if set := ring.RRset(in.QType); len(set) > 0 {
			answer = append(append(make([]dns.RR, 0, len(answer)+len(set)), answer...), set...)
			ns = nil // the negative answer's SOA goes
			kind, rcode = Answer, dns.RcodeSuccess
		}
	}
	if kind == NoData && in.Name == in.Zone && in.QType == dns.TypeNSEC3PARAM && in.Mode == NSEC3 {
		answer = append(append(make([]dns.RR, 0, len(answer)+1), answer...), NSEC3PARAM(in.Zone))
		ns = nil
		kind, rcode = Answer, dns.RcodeSuccess
	}
	return answer, ns, kind, rcode
}

// signSections returns the answer and authority sections with their RRSIGs and the denial
// records, and the rcode to answer with.
func (b *builder) signSections(answer, ns []dns.RR, kind Kind, rcode int) (outA, outNs []dns.RR, _ int, err error) {
	in := b.in
	outA = make([]dns.RR, 0, 2*len(answer)+2)
	outA = append(outA, answer...)
	if outA, err = b.section(outA, answer, kind, false); err != nil {
		return nil, nil, 0, err
	}
	// A plain positive answer has no authority section: no allocation.
	if len(ns) > 0 {
		outNs = append(make([]dns.RR, 0, 2*len(ns)+4), ns...)
	}
	if outNs, err = b.section(outNs, ns, kind, true); err != nil {
		return nil, nil, 0, err
	}
	if kind == Answer && (in.Mode == WhiteLies || in.Mode == NSEC || in.Mode == NSEC3) {
		if outNs, err = b.wildcardProofs(outNs); err != nil {
			return nil, nil, 0, err
		}
	}
	outNs, rcode, err = b.denial(outNs, kind, rcode)
	return outA, outNs, rcode, err
}

func isKeyType(t uint16) bool {
	return t == dns.TypeDNSKEY || t == dns.TypeCDS || t == dns.TypeCDNSKEY
}

// section appends to out the RRSIGs for the RRsets of sec. RRsets are grouped by owner, type
// and class with a linear scan (responses hold a handful of records; no map per response).
func (b *builder) section(out, sec []dns.RR, kind Kind, authority bool) ([]dns.RR, error) {
	for i, rr := range sec {
		h := rr.Header()
		if h.Rrtype == dns.TypeRRSIG || h.Rrtype == dns.TypeOPT || seen(sec[:i], h) {
			continue
		}
		if !dnsname.InZone(h.Name, b.in.Zone) {
			continue // not ours to sign (a CNAME target's data from another zone)
		}
		if authority && kind == Referral && h.Rrtype == dns.TypeNS && h.Name != b.in.Zone {
			continue // the child's NS at a cut is not authoritative (RFC 4035 §2.2)
		}
		if h.Rrtype == dns.TypeCNAME && fromDNAME(sec, h.Name) {
			// A CNAME synthesised from a DNAME is not signed: validators check the DNAME's
			// signature and synthesise the CNAME themselves (RFC 6672 §5.3.1).
			continue
		}
		set := rrset(sec, i)
		var err error
		if out, err = b.signRRset(out, set); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// fromDNAME reports whether a CNAME owned by name was synthesised from a DNAME in sec: one
// owned by an ancestor of name. Zone data below a DNAME is never served, so a CNAME there can
// only be a synthesised one.
func fromDNAME(sec []dns.RR, name string) bool {
	for _, rr := range sec {
		if h := rr.Header(); h.Rrtype == dns.TypeDNAME && h.Name != name && dnsname.InZone(name, h.Name) {
			return true
		}
	}
	return false
}

func sameSet(a, b *dns.RR_Header) bool {
	return a.Rrtype == b.Rrtype && a.Class == b.Class && a.Name == b.Name
}

func seen(before []dns.RR, h *dns.RR_Header) bool {
	for _, rr := range before {
		if sameSet(rr.Header(), h) {
			return true
		}
	}
	return false
}

// rrset returns the RRset that sec[i] starts: a subslice when its records are contiguous (the
// usual case, no allocation), else a new slice.
func rrset(sec []dns.RR, i int) []dns.RR {
	h := sec[i].Header()
	j := i + 1
	for j < len(sec) && sameSet(sec[j].Header(), h) {
		j++
	}
	for k := j; k < len(sec); k++ {
		if sameSet(sec[k].Header(), h) {
			set := append([]dns.RR(nil), sec[i:j]...)
			for ; k < len(sec); k++ {
				if sameSet(sec[k].Header(), h) {
					set = append(set, sec[k])
				}
			}
			return set
		}
	}
	return sec[i:j:j]
}

// synth returns the wildcard that name was synthesised from, or "".
func (b *builder) synth(name string) string {
	for _, sy := range b.in.Synth {
		if sy.Name == name {
			return sy.Wildcard
		}
	}
	return ""
}

// signRRset appends the signatures over a zone RRset taken from the response.
func (b *builder) signRRset(out, set []dns.RR) ([]dns.RR, error) {
	h := set[0].Header()
	if isKeyType(h.Rrtype) && h.Name == b.in.Zone {
		return b.signKeySet(out, set)
	}
	wc := b.synth(h.Name)
	switch {
	case wc == "":
		return b.signWith(out, set, h.Name, false)
	case b.in.Mode == NSEC || b.in.Mode == NSEC3:
		// The chain proves the qname missing (wildcardProofs), so the signature is the
		// wildcard's, shared by every expansion (RFC 4035 §3.1.3.3).
		return b.signWith(out, set, wc, false)
	case b.in.Mode == WhiteLies:
		// RFC 4035 §3.1.3.3, RFC 4034 §3.1.3: the RRSIG's Labels counts the wildcard's
		// labels without the "*", so the validator rebuilds the signed wildcard RRset from
		// the expansion; one signature then serves every name the wildcard expands to.
		if _, _, err := cover(b.in.Names, h.Name, wildcardParent(wc)); err == nil {
			return b.signWith(out, set, wc, false)
		}
		// No covering NSEC for this name (see cover): sign the expansion as ordinary data,
		// which needs no proof.
		return b.signWith(out, set, h.Name, true)
	default:
		// Compact and black lies claim the name exists: sign the expansion as owned by the
		// query name (Labels = its label count), no proof needed. The owner is whatever the
		// query asked, so the signatures go to the denial cache.
		return b.signWith(out, set, h.Name, true)
	}
}

func wildcardParent(wc string) string {
	if len(wc) > 2 && wc[:2] == "*." {
		return wc[2:]
	}
	return "."
}

// signWith appends the signatures of every zone-signing key over set, signed as owned by
// owner. When owner is a wildcard the cached RRSIG is owned by it, and a copy re-owned by the
// expansion goes out (it allocates; white-lies wildcard answers only).
func (b *builder) signWith(out, set []dns.RR, owner string, volatile bool) ([]dns.RR, error) {
	name := set[0].Header().Name
	for i := range b.ring.zsks {
		sig, err := b.s.sig(b.ring, &b.ring.zsks[i], owner, set, volatile, b.now)
		if err != nil {
			return nil, err
		}
		if sig.Hdr.Name != name {
			c := *sig
			c.Hdr.Name = name
			sig = &c
		}
		out = append(out, sig)
	}
	return out, nil
}

// signKeySet appends the KSK signatures over an apex DNSKEY, CDS or CDNSKEY RRset. For the
// ring's own RRset it serves the pre-made signature with the most validity left while at
// least Refresh remains; past that it signs live (cached), and if the KSK's signer fails it
// falls back to any pre-made signature still valid, so a KSK outage (an unreachable TPM) is
// survived for as long as the pre-made signatures last.
func (b *builder) signKeySet(out, set []dns.RR) ([]dns.RR, error) {
	typ := set[0].Header().Rrtype
	own := b.ring.RRset(typ)
	ours := len(own) == len(set) && len(set) > 0 && own[0] == set[0]
	_, refresh := b.s.timing(b.ring)
	for i := range b.ring.ksks {
		k := &b.ring.ksks[i]
		var pre *dns.RRSIG
		if ours {
			pre = b.ring.pick(typ, k, b.now)
		}
		if pre != nil && int64(pre.Expiration)-b.now.Unix() >= int64(refresh/time.Second) {
			out = append(out, pre)
			continue
		}
		sig, err := b.s.sig(b.ring, k, b.ring.zone, set, false, b.now)
		if err != nil {
			if pre == nil {
				return nil, fmt.Errorf("KSK %d: %w (no pre-made signature valid now)", k.Tag, err)
			}
			sig = pre
		}
		out = append(out, sig)
	}
	return out, nil
}
