package signer

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Prepared denial: NXDOMAIN answers of the chain modes (NSEC, NSEC3) from wire pieces packed
// once.
//
// In these modes nothing in a missing name's authority section depends on the name beyond
// which chain links cover it: the negative SOA and its RRSIGs are shared by every missing name
// of the zone, and each NSEC (NSEC3) link and its RRSIGs by every name the link covers. So
// each of those RRsets is packed once, with its signatures, into a Piece, and an answer for a
// never-seen name costs a search of the chain and a few copies: no records built, no cache
// keys hashed, no message packed, no signature made.
//
// Pieces are made only from signatures already in the signature cache (PreparedNXDomain never
// signs): when one is missing or too close to expiry the caller answers through Sign, which
// makes and caches it, and the next answer for that link finds it. The pieces of a zone
// snapshot live with the snapshot (through its Memo) and are kept per ring: a new snapshot
// starts with none, and a new ring (a rollover, a re-sign) replaces the ring's pieces, so a
// piece is never served with data or keys other than those it was made from.

// preparedLinks bounds the link pieces kept per zone snapshot and ring. A piece is a few
// hundred bytes; past the bound, links without a kept piece are packed anew for each answer
// (from the signature cache, still without signing).
const preparedLinks = 1 << 16

// Piece is one RRset of a denial and its RRSIGs in wire form, packed after a message header and
// the zone's origin, so that its names point at that origin (and at its own earlier names)
// wherever they can. AppendTo moves those pointers to where the piece lands in a response.
type Piece struct {
	wire  []byte   // the records
	count int      // how many
	sigs  int      // how many of them are RRSIGs
	ptrs  []uint16 // offsets in wire of its compression pointers
	base  int      // the offset wire was packed at: header + origin
	inc   int64    // the latest inception of its signatures, Unix seconds
	exp   int64    // the earliest expiration
	until int64    // the last second at which every signature has the refresh margin left
}

// Count returns the number of records in the piece.
func (p *Piece) Count() int { return p.count }

// Len returns the piece's size in wire form.
func (p *Piece) Len() int { return len(p.wire) }

// AppendTo appends the piece to msg, a message whose question holds the zone's origin, in
// lowercase wire form exactly as the piece was packed against it, at offset originOff. msg's
// final length must stay below 0x4000 for its compression pointers to reach.
func (p *Piece) AppendTo(msg []byte, originOff int) []byte {
	start := len(msg)
	msg = append(msg, p.wire...)
	for _, at := range p.ptrs {
		i := start + int(at)
		t := int(binary.BigEndian.Uint16(msg[i:]) & 0x3FFF)
		if t < p.base {
			t = originOff + t - headerLen
		} else {
			t = start + t - p.base
		}
		binary.BigEndian.PutUint16(msg[i:], 0xC000|uint16(t))
	}
	return msg
}

const headerLen = 12

// usableAt reports whether every signature in the piece may be served at Unix second t.
func (p *Piece) usableAt(t int64) bool { return p.inc <= t && t <= p.until }

// preparedKey is the Memo key of a snapshot's pieces.
type preparedKey struct{}

// snapshotPieces are the pieces of one zone snapshot, for the ring that made them.
type snapshotPieces struct{ cur atomic.Pointer[ringPieces] }

// ringPieces are the pieces made with one ring in one mode.
type ringPieces struct {
	ring *KeyRing
	mode Mode
	neg  atomic.Pointer[Piece]
	// links holds the link pieces by owner name (NSEC) or hash (NSEC3): a sync.Map, read
	// without locking, since its keys are the snapshot's chain links, a fixed set.
	links sync.Map
	nlink atomic.Int64 // pieces in links
	// lastCE saves a search of the chain for the wildcard (and in NSEC3 mode one for the
	// closest encloser, two hashes): most missing names share their closest encloser (the
	// apex, mostly), and those links depend on it alone.
	lastCE atomic.Pointer[ceLinks]
}

// ceLinks are the links that a closest encloser name fixes: in NSEC3 mode the chain indexes
// of the link matching it and of the one covering its wildcard; in NSEC mode the link covering
// its wildcard.
type ceLinks struct {
	name            string
	ce, wc          int
	wcOwner, wcNext string
}

// memoer is the part of HashedChain that keeps values with a zone snapshot.
type memoer interface {
	Memo(key any, build func() any) any
}

func piecesOf(m memoer, ring *KeyRing, mode Mode) *ringPieces {
	sp := m.Memo(preparedKey{}, func() any { return new(snapshotPieces) }).(*snapshotPieces)
	if rp := sp.cur.Load(); rp != nil && rp.ring == ring && rp.mode == mode {
		return rp
	}
	rp := &ringPieces{ring: ring, mode: mode}
	sp.cur.Store(rp)
	return rp
}

// PreparedNXDomain appends to dst the authority section of the NXDOMAIN answer in (Kind
// NXDomain, Mode NSEC or NSEC3, DO set) as prepared pieces: neg, the negative SOA RRset the
// lookup gave, with its RRSIGs; then each chain link proving the name and the wildcard at its
// closest encloser missing, with its RRSIGs: the records Sign puts there, in the same order.
// ok is false when the answer is not one it prepares or a signature it needs is not in the
// cache (or too close to expiry); the caller then answers through Sign. It never signs, so it
// can run where signing must not (a UDP reader). Safe for concurrent use.
func (s *Signer) PreparedNXDomain(in *Input, neg []dns.RR, ring *KeyRing, now time.Time, dst []*Piece) (_ []*Piece, ok bool) {
	if ring == nil || in.Kind != NXDomain || !in.DO || in.SOA == nil || len(neg) != 1 || len(ring.zsks) == 0 {
		return dst, false
	}
	m, isMemo := in.Names.(memoer)
	if !isMemo || (in.Mode != NSEC && in.Mode != NSEC3) {
		return dst, false
	}
	rp := piecesOf(m, ring, in.Mode)
	p := s.negPiece(rp, ring, in.Zone, neg, now)
	if p == nil {
		return dst, false
	}
	mark := len(dst)
	dst = append(dst, p)
	if in.Mode == NSEC {
		dst, ok = s.nsecLinks(rp, in, ring, now, dst, mark)
	} else {
		dst, ok = s.nsec3Links(rp, in, ring, now, dst, mark)
	}
	if !ok {
		return dst[:mark], false
	}
	for _, p := range dst[mark:] {
		s.hits.Add(uint64(p.sigs))
		s.noteServed(p.exp, now)
	}
	return dst, true
}

// negPiece returns the piece of the negative SOA RRset neg, made again when the one kept is
// missing or too close to expiry; nil when its signature is not in the cache.
func (s *Signer) negPiece(rp *ringPieces, ring *KeyRing, zone string, neg []dns.RR, now time.Time) *Piece {
	p := rp.neg.Load()
	if p == nil || !p.usableAt(now.Unix()) {
		if p = s.makePiece(ring, zone, neg, now); p == nil {
			return nil
		}
		rp.neg.Store(p)
	}
	return p
}

// closestEncloser returns in's closest encloser (the apex when the lookup named none) and the
// wildcard at it.
func closestEncloser(in *Input) (ce, wc string) {
	ce = in.ClosestEncloser
	if ce == "" {
		ce = in.Zone
	}
	if ce == "." {
		return ce, "*."
	}
	return ce, "*." + ce
}

// nsecLinks appends the NSEC links that cover the name and the wildcard at its closest
// encloser (RFC 4035 §3.1.3.2), with their RRSIGs.
func (s *Signer) nsecLinks(rp *ringPieces, in *Input, ring *KeyRing, now time.Time, dst []*Piece, mark int) ([]*Piece, bool) {
	ch, isChain := in.Names.(Chain)
	if !isChain {
		return dst, false
	}
	ce, wc := closestEncloser(in)
	cl := rp.lastCE.Load()
	if cl == nil || cl.name != ce {
		cl = &ceLinks{name: ce}
		cl.wcOwner, cl.wcNext = ch.Cover(wc)
		rp.lastCE.Store(cl)
	}
	owner, next := ch.Cover(in.Name)
	t := now.Unix()
	var ok bool
	for _, link := range [2][2]string{{owner, next}, {cl.wcOwner, cl.wcNext}} {
		owner, next := link[0], link[1]
		if dst, ok = s.linkPiece(rp, dst, mark, owner, t, func() dns.RR {
			return linkNSEC(ch, in.Zone, in.SOA, ring, owner, next)
		}, now); !ok {
			return dst, false
		}
	}
	return dst, true
}

// nsec3Links appends the NSEC3 links of the closest encloser proof (RFC 5155 §7.2.1): the
// match of the closest encloser, the cover of the next closer name and the cover of the
// wildcard, with their RRSIGs.
func (s *Signer) nsec3Links(rp *ringPieces, in *Input, ring *KeyRing, now time.Time, dst []*Piece, mark int) ([]*Piece, bool) {
	src, isHashed := in.Names.(HashedChain)
	if !isHashed {
		return dst, false
	}
	c := chainOf(src)
	if len(c.hashes) == 0 {
		return dst, false
	}
	ce, wc := closestEncloser(in)
	cl := rp.lastCE.Load()
	if cl == nil || cl.name != ce {
		cl = &ceLinks{name: ce}
		cl.ce, _ = c.find(ce)
		cl.wc, _ = c.find(wc)
		rp.lastCE.Store(cl)
	}
	nc, _ := c.find(nextCloser(in.Name, ce))
	t := now.Unix()
	var ok bool
	for _, i := range [3]int{cl.ce, nc, cl.wc} {
		if dst, ok = s.linkPiece(rp, dst, mark, c.hashes[i], t, func() dns.RR {
			return nsec3At(src, c, in.Zone, in.SOA, ring, i)
		}, now); !ok {
			return dst, false
		}
	}
	return dst, true
}

// linkPiece appends the piece of the link keyed key (made with build when the cache has no
// usable one), unless dst[mark:] holds it already.
func (s *Signer) linkPiece(rp *ringPieces, dst []*Piece, mark int, key string, t int64, build func() dns.RR, now time.Time) ([]*Piece, bool) {
	var p *Piece
	v, found := rp.links.Load(key)
	if found {
		p = v.(*Piece)
	}
	if !found || !p.usableAt(t) {
		if p = s.makePiece(rp.ring, rp.ring.zone, []dns.RR{build()}, now); p == nil {
			return dst, false
		}
		if found || rp.nlink.Add(1) <= preparedLinks {
			rp.links.Store(key, p)
		}
	}
	for _, q := range dst[mark:] {
		if q == p {
			return dst, true
		}
	}
	return append(dst, p), true
}

// makePiece packs set and the cached RRSIGs of every zone-signing key over it; nil when one of
// them is not cached and usable at now.
func (s *Signer) makePiece(ring *KeyRing, zone string, set []dns.RR, now time.Time) *Piece {
	_, refresh := s.timing(ring)
	owner := set[0].Header().Name
	rrs := append(make([]dns.RR, 0, len(set)+len(ring.zsks)), set...)
	p := &Piece{exp: math.MaxInt64}
	for i := range ring.zsks {
		kb := keyBufs.Get().(*keyBuf)
		ck, err := s.key(kb, &ring.zsks[i], ring.zone, owner, set)
		keyBufs.Put(kb)
		if err != nil {
			return nil
		}
		e := cached(s.main, ck, now, refresh)
		if e == nil {
			return nil
		}
		rrs = append(rrs, e.sig)
		p.inc, p.exp = max(p.inc, e.inc), min(p.exp, e.exp)
	}
	p.sigs = len(ring.zsks)
	p.until = p.exp - int64(refresh/time.Second)
	if err := p.pack(zone, rrs); err != nil {
		return nil
	}
	return p
}

// pack fills p.wire and p.ptrs with rrs packed, compressed, as the authority section of a
// message whose question is the origin zone. (A message, not dns.PackRR, which writes each
// record's Rdlength: the zone's records are shared by concurrent queries.)
func (p *Piece) pack(zone string, rrs []dns.RR) error {
	m := &dns.Msg{Compress: true, Question: []dns.Question{{Name: zone, Qtype: dns.TypeSOA, Qclass: dns.ClassINET}}, Ns: rrs}
	w, err := m.Pack()
	if err != nil {
		return err
	}
	i := headerLen
	for i < len(w) && w[i] != 0 {
		i += int(w[i]) + 1
	}
	p.base = i + 1 + 4 // past the question's root octet, type and class
	if p.base > len(w) {
		return fmt.Errorf("signer: packed piece shorter than its question")
	}
	p.wire, p.count = w[p.base:], len(rrs)
	return p.findPointers(rrs)
}

// findPointers notes where p.wire's compression pointers are: in owner names, and in the one
// RDATA here whose names may be compressed, the SOA's (RFC 3597 §4: NSEC, NSEC3 and RRSIG
// RDATA names never are).
func (p *Piece) findPointers(rrs []dns.RR) error {
	w := p.wire
	off := 0
	var err error
	for range rrs {
		if off, err = p.notePointer(off); err != nil {
			return err
		}
		if off+10 > len(w) {
			return fmt.Errorf("signer: piece ends inside a record header")
		}
		typ := binary.BigEndian.Uint16(w[off:])
		end := off + 10 + int(binary.BigEndian.Uint16(w[off+8:]))
		off += 10
		if typ == dns.TypeSOA {
			// MNAME and RNAME.
			for range 2 {
				if off, err = p.notePointer(off); err != nil {
					return err
				}
			}
		}
		off = end
	}
	if off != len(w) {
		return fmt.Errorf("signer: piece has %d bytes after its records", len(w)-off)
	}
	return nil
}

// notePointer skips the wire name at off in p.wire, noting where it ends in a compression
// pointer, and returns the offset past it.
func (p *Piece) notePointer(off int) (int, error) {
	w := p.wire
	for {
		if off >= len(w) {
			return 0, fmt.Errorf("signer: piece ends inside a name")
		}
		l := int(w[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xC0 == 0xC0:
			p.ptrs = append(p.ptrs, uint16(off))
			return off + 2, nil
		}
		off += 1 + l
	}
}
