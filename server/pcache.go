package server

import (
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// The packet cache keeps whole packed responses, so that a repeated question costs a hash, a
// map lookup and a copy: no unpacking, no lookup, no signing, no packing. It is keyed on the
// question (lowercased), everything in the query that changes the answer (EDNS presence, DO,
// CO, the effective UDP size), and the generations of the zone data and the key rings, so an
// entry can never outlive the data or keys it was made from: a reload or key change bumps a
// generation and every older entry becomes unreachable (and ages out of the LRU).
//
// Answers about names that do not exist go to their own, smaller LRU: a random-subdomain flood
// fills that one and cannot evict the answers for names that exist (PowerDNS and CoreDNS both
// lose their hot entries to such floods).

// pcacheTTL bounds an entry's life. Signatures in a cached response have at least the signer's
// refresh margin (2 days by default) of validity left when made, so a few minutes cost nothing,
// and a short life keeps the memory of rarely asked names bounded in time too.
const pcacheTTL = 300 // seconds

type pcEntry struct {
	key     []byte // the exact cache key bytes, compared on hit: no collision can mix answers
	resp    []byte
	expires int64
}

type packetCache struct {
	pos, neg *lru.Cache[uint64, *pcEntry]
	// seen is the doorkeeper of the missing-name LRU: an answer about a missing name is kept
	// only when its key was missed before, so a flood of unique random names costs no copy,
	// insertion or eviction (those names are never asked again).
	seen   [4096]atomic.Uint64
	seed   maphash.Seed
	hits   atomic.Uint64
	misses atomic.Uint64
	// prepared counts the misses answered from prepared denial pieces (see preparedUDP).
	prepared atomic.Uint64
}

func newPacketCache(size int) *packetCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultPacketCacheSize
	}
	negSize := size / 10
	if negSize < 16 {
		negSize = 16
	}
	pos, err := lru.New[uint64, *pcEntry](size)
	if err != nil {
		return nil
	}
	neg, err := lru.New[uint64, *pcEntry](negSize)
	if err != nil {
		return nil
	}
	return &packetCache{pos: pos, neg: neg, seed: maphash.MakeSeed()}
}

// fastQuery is what the packet cache needs of a query, parsed without allocating. Only plain
// queries qualify: one question with an uncompressed name, no answer or authority records,
// at most an OPT without options. Everything else takes the full path.
type fastQuery struct {
	nameEnd int  // offset just past the question name
	size    int  // the response size limit
	flags   byte // EDNS present (0x01), DO (0x80), CO (0x40)
	key     [320]byte
	keyLen  int
}

// parseFast fills q from a UDP query; ok is false when the query must take the full path. The
// key is the lowercased question name, type and class, then the EDNS flags and size.
func parseFast(in []byte, ours uint16, q *fastQuery) bool {
	if len(in) < headerSize+5 {
		return false
	}
	// QR=0, opcode QUERY, TC=0; QDCOUNT=1, ANCOUNT=NSCOUNT=0, ARCOUNT<=1.
	if in[2]&0xFA != 0 || binary.BigEndian.Uint16(in[4:]) != 1 || in[6]|in[7]|in[8]|in[9] != 0 || in[10] != 0 || in[11] > 1 {
		return false
	}
	k, off, ok := appendName(q.key[:0], in, headerSize)
	if !ok || off+4 > len(in) {
		return false
	}
	q.nameEnd = off
	k = append(k, in[off:off+4]...) // qtype, qclass
	off += 4
	size, flags := 512, byte(0)
	if in[11] == 1 {
		if size, flags, ok = parseOPT(in, off, ours); !ok {
			return false
		}
	} else if off != len(in) {
		return false
	}
	k = append(k, flags, byte(size>>8), byte(size))
	q.size, q.flags = size, flags
	q.keyLen = len(k)
	return true
}

// appendName appends to k the uncompressed name at in[off:], lowercased, in wire form, and
// returns the offset past it; ok is false for a compressed, malformed or too long name.
func appendName(k, in []byte, off int) (_ []byte, end int, ok bool) {
	for {
		if off >= len(in) {
			return k, 0, false
		}
		l := int(in[off])
		if l == 0 {
			return append(k, 0), off + 1, true
		}
		if l > 63 || off+1+l > len(in) || off+1+l-headerSize > 254 {
			return k, 0, false
		}
		k = append(k, byte(l))
		for _, c := range in[off+1 : off+1+l] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k = append(k, c)
		}
		off += 1 + l
	}
}

// parseOPT reads the OPT record that ends the query at in[off:]: root owner, type 41, class =
// UDP size, TTL = ext-rcode, version, flags, then the options. It returns the response size
// limit and the key flags: EDNS present (0x01), DO (0x80), CO (0x40). Signet implements no
// option (a cookie, NSID, ECS or padding gets no answer of its own, RFC 6891 §6.1.2), so
// options do not change the response and are only checked for well-formedness here.
func parseOPT(in []byte, off int, ours uint16) (size int, flags byte, ok bool) {
	if off+11 > len(in) || in[off] != 0 || in[off+1] != 0 || in[off+2] != 41 || in[off+5] != 0 || in[off+6] != 0 {
		return 0, 0, false
	}
	rdlen := int(binary.BigEndian.Uint16(in[off+9:]))
	if off+11+rdlen != len(in) || !optionsWellFormed(in[off+11:]) {
		return 0, 0, false
	}
	size = min(max(int(binary.BigEndian.Uint16(in[off+3:])), 512), int(ours))
	return size, 0x01 | in[off+7]&0xC0, true
}

// lookup returns a copy of the cached response for q, patched for this query (ID, RD and CD
// bits, and the question name as sent, for 0x20), or nil; a nil counts as a miss.
func (c *packetCache) lookup(q *fastQuery, in, out []byte, now int64) ([]byte, uint64) {
	resp, h := c.peek(q, in, out, now)
	if resp == nil {
		c.misses.Add(1)
	}
	return resp, h
}

// peek is lookup without counting a miss (the full path that follows counts it).
func (c *packetCache) peek(q *fastQuery, in, out []byte, now int64) ([]byte, uint64) {
	key := q.key[:q.keyLen]
	h := maphash.Bytes(c.seed, key)
	e, ok := c.pos.Get(h)
	if !ok {
		e, ok = c.neg.Get(h)
	}
	if !ok || e.expires <= now || string(e.key) != string(key) {
		return nil, h
	}
	c.hits.Add(1)
	out = append(out[:0], e.resp...)
	out[0], out[1] = in[0], in[1]
	out[2] = out[2]&^0x01 | in[2]&0x01 // RD
	out[3] = out[3]&^0x10 | in[3]&0x10 // CD
	copy(out[headerSize:q.nameEnd], in[headerSize:q.nameEnd])
	return out, h
}

// store keeps a response. Answers about missing names go to the smaller LRU, once admitted.
func (c *packetCache) store(h uint64, q *fastQuery, resp []byte, missing bool, now int64) {
	if !c.admit(h, missing) {
		return
	}
	e := &pcEntry{
		key:     append([]byte(nil), q.key[:q.keyLen]...),
		resp:    append([]byte(nil), resp...),
		expires: now + pcacheTTL,
	}
	if missing {
		c.neg.Add(h, e)
		return
	}
	c.pos.Add(h, e)
}

// admit reports whether a response may enter the cache now (see seen).
func (c *packetCache) admit(h uint64, missing bool) bool {
	if !missing {
		return true
	}
	return c.seen[h%uint64(len(c.seen))].Swap(h) == h
}

// addGenerations appends the zone and key generations to the key, so that an entry made from
// older data or keys never matches.
func (q *fastQuery) addGenerations(zg, kg uint64) {
	k := binary.BigEndian.AppendUint64(q.key[:q.keyLen], zg)
	k = binary.BigEndian.AppendUint64(k, kg)
	q.keyLen = len(k)
}

// optionsWellFormed reports whether b is a sequence of whole EDNS options (code, length, data).
func optionsWellFormed(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 4 {
			return false
		}
		n := 4 + int(binary.BigEndian.Uint16(b[2:]))
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	return true
}
