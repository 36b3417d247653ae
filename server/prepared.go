package server

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

// Preparer hands out the authority section of an NXDOMAIN answer in the chain denial modes
// (NSEC, NSEC3) as wire pieces made once per chain link (see signer.PreparedNXDomain).
// *signer.Signer implements it; a Signer that does not leaves every answer to Sign.
type Preparer interface {
	PreparedNXDomain(in *signer.Input, neg []dns.RR, ring *signer.KeyRing, now time.Time, dst []*signer.Piece) ([]*signer.Piece, bool)
}

// preparedUDP answers a plain UDP query with DO for a missing name of a zone signed in NSEC or
// NSEC3 mode from prepared pieces: a zone lookup, a search of the chain and a few copies,
// without unpacking the query, signing or packing a message, so that a flood of never-seen
// names costs about what cached answers do. It returns nil when the query takes the full path:
// anything but a plain NXDOMAIN (a CNAME or DNAME on the way, a wildcard, an existing name), a
// question name with characters other than letters, digits, '-' and '_', or whose zone part
// is not in lowercase (the pieces' names point at it, and NSEC next names must keep their
// case, RFC 6840 §5.1), a piece whose signature is not cached yet (the full path signs and
// caches it), or an answer over the size limit.
func (h *Handler) preparedUDP(in, out []byte, q *fastQuery, now time.Time) []byte {
	if h.prep == nil || q.flags&0x80 == 0 {
		return nil
	}
	qname, qtype, ok := preparableQuestion(q)
	if !ok {
		return nil
	}
	var buf [4]*signer.Piece
	pieces, originOff, ok := h.preparedDenial(in, q, qname, qtype, now, buf[:0])
	if !ok {
		return nil
	}
	return h.writePrepared(in, out, q, pieces, originOff)
}

// preparableQuestion returns the question of q when a prepared denial may answer it: class
// IN, a type with no answer of its own (not a meta type, OPT or DS, which may be the parent's)
// and a plain name (see plainName).
func preparableQuestion(q *fastQuery) (qname string, qtype uint16, ok bool) {
	nameLen := q.nameEnd - headerSize
	qtype = binary.BigEndian.Uint16(q.key[nameLen:])
	qclass := binary.BigEndian.Uint16(q.key[nameLen+2:])
	if qclass != dns.ClassINET || (qtype >= 128 && qtype <= 255) || qtype == dns.TypeOPT || qtype == dns.TypeDS {
		return "", 0, false
	}
	qname, ok = plainName(q.key[:nameLen])
	return qname, qtype, ok
}

// preparedDenial looks qname up and returns the prepared pieces of its NXDOMAIN answer and the
// offset of the zone's name in the question (where the pieces' names point), or false when the
// name's zone is not signed in a chain mode, the zone part is not in lowercase, the name is
// not a plain NXDOMAIN, or a piece is not ready.
func (h *Handler) preparedDenial(in []byte, q *fastQuery, qname string, qtype uint16, now time.Time, dst []*signer.Piece) (_ []*signer.Piece, originOff int, ok bool) {
	z := h.zones.Match(qname)
	if z == nil || !z.Available() {
		return nil, 0, false
	}
	origin := z.Origin()
	ring, mode, signed := h.keys.Signing(origin)
	if !signed || ring == nil || (mode != signer.NSEC && mode != signer.NSEC3) {
		return nil, 0, false
	}
	originLen := len(origin) + 1 // no escapes: the name, and so its zone, is plain
	if origin == "." {
		originLen = 1
	}
	nameLen := q.nameEnd - headerSize
	originOff = q.nameEnd - originLen
	if string(in[originOff:q.nameEnd]) != string(q.key[nameLen-originLen:nameLen]) {
		return nil, 0, false // the zone part is not in lowercase
	}
	res := z.Lookup(qname, qtype)
	if res.Kind != zones.NXDomain || res.YXDomain || len(res.Answer) != 0 || len(res.Extra) != 0 {
		return nil, 0, false
	}
	sin := signer.Input{Zone: origin, Mode: mode, Kind: res.Kind, QName: qname, QType: qtype, Name: res.Name,
		ClosestEncloser: res.ClosestEncloser, SOA: res.SOA, DO: true, Names: z}
	pieces, ok := h.prep.PreparedNXDomain(&sin, res.Ns, ring, now, dst)
	return pieces, originOff, ok
}

// writePrepared writes the NXDOMAIN answer made of pieces into out: the header, the question
// as sent, the pieces (their names pointing at the zone's name at originOff) and the OPT; nil
// when it would be over the query's size limit.
func (h *Handler) writePrepared(in, out []byte, q *fastQuery, pieces []*signer.Piece, originOff int) []byte {
	const optLen = 11
	size, count := q.nameEnd+4+optLen, 0
	for _, p := range pieces {
		size += p.Len()
		count += p.Count()
	}
	if size > q.size || size >= 0x4000 || count > 0xFFFF {
		return nil
	}
	out = append(out[:0], in[0], in[1],
		0x80|0x04|in[2]&0x01,          // QR, opcode QUERY, AA, RD echoed
		in[3]&0x10|dns.RcodeNameError, // CD echoed
		0, 1, 0, 0, byte(count>>8), byte(count), 0, 1)
	out = append(out, in[headerSize:q.nameEnd+4]...) // the question as sent
	for _, p := range pieces {
		out = p.AppendTo(out, originOff)
	}
	// The OPT: root owner, our payload size, DO echoed (RFC 3225 §3), no options.
	out = append(out, 0, 0, byte(dns.TypeOPT), byte(h.cfg.UDPSize>>8), byte(h.cfg.UDPSize), 0, 0, 0x80, 0, 0, 0)
	h.pcache.prepared.Add(1)
	return out
}

// preparedInReader is preparedUDP for the UDP readers, which have no recover of their own: a
// bug there must cost one query (it goes on to a worker's full path, which has one), never the
// server.
func (h *Handler) preparedInReader(in, out []byte, q *fastQuery, now time.Time) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			h.cfg.Logger.Error("panic preparing a denial", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp = nil
		}
	}()
	return h.preparedUDP(in, out, q, now)
}

// plainName returns the presentation form of a lowercased uncompressed wire name whose labels
// hold only letters, digits, '-' and '_'; ok is false for any other name.
func plainName(w []byte) (string, bool) {
	var buf [256]byte
	n := 0
	for i := 0; i < len(w) && w[i] != 0; {
		l := int(w[i])
		if i+1+l > len(w) || n+l+1 > len(buf) {
			return "", false
		}
		for _, c := range w[i+1 : i+1+l] {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
		n += copy(buf[n:], w[i+1:i+1+l])
		buf[n] = '.'
		n++
		i += 1 + l
	}
	if n == 0 {
		return ".", true
	}
	return string(buf[:n]), true
}
