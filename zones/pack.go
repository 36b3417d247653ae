package zones

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/miekg/dns"
)

// maxWire bounds Zone.wire: offsets into it are 32-bit.
const maxWire = 1<<32 - 1

// packRdata appends rr's RDATA to dst as a 2-octet length and the octets, names uncompressed
// so that every record unpacks on its own. scratch is a buffer for the whole record.
func packRdata(dst []byte, rr dns.RR, scratch []byte) ([]byte, []byte, error) {
	end, err := dns.PackRR(rr, scratch, 0, nil, false)
	if err == dns.ErrBuf {
		scratch = make([]byte, dns.MaxMsgSize)
		end, err = dns.PackRR(rr, scratch, 0, nil, false)
	}
	if err != nil {
		return dst, scratch, err
	}
	// The header is the owner name (uncompressed: labels up to the root label), then type,
	// class, TTL and RDLENGTH (10 octets).
	i := 0
	for scratch[i] != 0 {
		i += int(scratch[i]) + 1
	}
	rdata := scratch[i+1+10 : end]
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(rdata)))
	return append(dst, rdata...), scratch, nil
}

// records returns the records of s, each RDATA with its length prefix, for comparisons.
func eachRecord(wire []byte, s *rrset, fn func(rec []byte) bool) {
	off := int(s.off)
	for range s.n {
		l := int(binary.BigEndian.Uint16(wire[off:]))
		if !fn(wire[off : off+2+l]) {
			return
		}
		off += 2 + l
	}
}

// unpack builds the records of s owned by owner. They were packed by packRdata, so they
// unpack; one that did not would be left out rather than served malformed.
func unpack(wire []byte, owner string, s *rrset) []dns.RR {
	out := make([]dns.RR, 0, s.n)
	eachRecord(wire, s, func(rec []byte) bool {
		h := dns.RR_Header{Name: owner, Rrtype: s.typ, Class: dns.ClassINET, Ttl: s.ttl, Rdlength: uint16(len(rec) - 2)}
		if rr, _, err := dns.UnpackRRWithHeader(h, rec, 2); err == nil {
			out = append(out, rr)
		}
		return true
	})
	return out[:len(out):len(out)]
}

// decoded is an RRset unpacked for answers, with its additional-section data; for a
// referral, rrs is the authority section (NS, then DS), extra the glue and ds the DS RRset.
// target is a CNAME's or DNAME's target lowercased, once: a chain followed from the cache
// then costs no lowercasing (and no allocation for a target written in capitals).
type decoded struct {
	key            uint32
	rrs, extra, ds []dns.RR
	target         string
}

// referralKey marks the cache entry of a cut's referral (keyed by its NS RRset's index).
const referralKey = 1 << 31

// decodeCache keeps recently unpacked RRsets, direct-mapped by RRset index: a slot holds the
// last RRset that mapped to it. It is bounded (slots are a quarter of the RRsets, at least 64,
// so that a small zone's sets rarely collide, and at most 65,536) and lock-free; a hit does
// not allocate.
type decodeCache struct {
	slots []atomic.Pointer[decoded]
}

func newDecodeCache(sets int) decodeCache {
	n := 64
	for n < sets/4 && n < 1<<16 {
		n <<= 1
	}
	return decodeCache{slots: make([]atomic.Pointer[decoded], n)}
}

func (c *decodeCache) get(key uint32) *decoded {
	if len(c.slots) == 0 {
		return nil
	}
	if d := c.slots[key&uint32(len(c.slots)-1)].Load(); d != nil && d.key == key {
		return d
	}
	return nil
}

func (c *decodeCache) put(d *decoded) {
	if len(c.slots) > 0 {
		c.slots[d.key&uint32(len(c.slots)-1)].Store(d)
	}
}

// decode returns the records of s (an RRset of n) and their additional-section data.
func (z *Zone) decode(n *node, s *rrset) *decoded {
	if d := z.decoded.get(s.id); d != nil {
		return d
	}
	rrs := unpack(z.wire, z.nameOf(n), s)
	d := &decoded{key: s.id, rrs: rrs, extra: z.additional(rrs)}
	if len(rrs) > 0 {
		switch rr := rrs[0].(type) {
		case *dns.CNAME:
			d.target = dns.CanonicalName(rr.Target)
		case *dns.DNAME:
			d.target = dns.CanonicalName(rr.Target)
		}
	}
	z.decoded.put(d)
	return d
}

// referral returns the authority and additional sections of a referral at cut n.
func (z *Zone) referral(n *node) *decoded {
	ns := z.set(n, dns.TypeNS)
	if d := z.decoded.get(ns.id | referralKey); d != nil {
		return d
	}
	nsd := z.decode(n, ns)
	d := &decoded{key: ns.id | referralKey, rrs: nsd.rrs, extra: nsd.extra}
	if s := z.set(n, dns.TypeDS); s != nil {
		d.ds = z.decode(n, s).rrs
		d.rrs = append(append(make([]dns.RR, 0, len(nsd.rrs)+len(d.ds)), nsd.rrs...), d.ds...)
	}
	z.decoded.put(d)
	return d
}

// addresses returns the A and AAAA records of an in-zone name: authoritative ones, or any
// (glue below a cut included) when glue is true.
func (z *Zone) addresses(name string, glue bool) []dns.RR {
	n := z.node(dns.CanonicalName(name))
	if n == nil || (n.occluded && !glue) {
		return nil
	}
	var out []dns.RR
	for _, t := range [...]uint16{dns.TypeA, dns.TypeAAAA} {
		if s := z.set(n, t); s != nil {
			out = append(out, unpack(z.wire, z.nameOf(n), s)...)
		}
	}
	return out
}

// additional computes the additional-section data of an RRset (RFC 1035 §3.3.9, §3.3.11,
// RFC 2782, RFC 9460 §4.1): addresses of the NS, MX, SRV, SVCB and HTTPS targets found in the
// zone. NS targets may use glue; the other targets below a cut are not authoritative and are
// left out.
func (z *Zone) additional(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	var seen map[string]bool
	for _, rr := range rrs {
		var target string
		glue := false
		switch rr := rr.(type) {
		case *dns.NS:
			target, glue = rr.Ns, true
		case *dns.MX:
			target = rr.Mx
		case *dns.SRV:
			target = rr.Target
		case *dns.SVCB:
			target = svcbTarget(&rr.Hdr, rr.Priority, rr.Target)
		case *dns.HTTPS:
			target = svcbTarget(&rr.Hdr, rr.Priority, rr.Target)
		default:
			return nil
		}
		if target == "" {
			continue
		}
		target = dns.CanonicalName(target)
		if seen[target] || !dns.IsSubDomain(z.origin, target) {
			continue
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		seen[target] = true
		out = append(out, z.addresses(target, glue)...)
	}
	return out[:len(out):len(out)]
}

// svcbTarget is the name whose addresses serve an SVCB or HTTPS record (RFC 9460 §2.5): its
// TargetName, or the owner itself when that is "." in ServiceMode. "." in AliasMode (priority
// 0) says the service does not exist: no addresses.
func svcbTarget(h *dns.RR_Header, priority uint16, target string) string {
	if target != "." {
		return target
	}
	if priority == 0 {
		return ""
	}
	return h.Name
}
