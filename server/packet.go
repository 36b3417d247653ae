package server

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"

	"github.com/miekg/dns"
)

const headerSize = 12

// ServePacket answers one DNS message in wire form and returns the response packed into out
// (grown if too small), or nil when nothing must be sent: a packet shorter than a header or
// one with QR set gets silence, since answering it could be used for reflection.
func (h *Handler) ServePacket(in, out []byte, tr transport) (resp []byte) {
	return h.servePacket(in, out, tr, netip.Addr{})
}

// servePacket is ServePacket for a query from client (for its DNS cookie). Its steps: the
// packet cache and the prepared denials (plain UDP queries), unpacking, the messages that are
// not plain queries, then the pipeline (respond) and packing, the answer kept in the packet
// cache when it may be.
func (h *Handler) servePacket(in, out []byte, tr transport, client netip.Addr) (resp []byte) {
	if !isQuery(in) {
		h.metrics.dropped.Inc()
		return nil
	}
	defer h.recoverQuery(&resp, in, out, tr)
	var (
		q      fastQuery
		cached bool
		hash   uint64
		now    int64
	)
	if tr == udp && h.cacheable(in, &q) {
		if resp, hash, now = h.fromCache(in, out, &q); resp != nil {
			return resp
		}
		cached = true
	}
	req := new(dns.Msg)
	if err := req.Unpack(in); err != nil || !countsMatch(req, in) {
		h.metrics.count(tr, dns.RcodeFormatError)
		return errorResponse(in, out, dns.RcodeFormatError)
	}
	if resp, ok := h.notPlainQuery(in, req, tr, client); ok {
		return resp
	}
	m, size, class := h.respond(req, tr, client)
	resp = h.pack(m, size, out, in, tr)
	if cached && class != uncacheable && resp != nil {
		h.pcache.store(hash, &q, resp, class == missingName, now)
	}
	return resp
}

// recoverQuery, deferred, turns a panic in the pipeline into a SERVFAIL for that query: a bug
// must cost one query, never the server.
func (h *Handler) recoverQuery(resp *[]byte, in, out []byte, tr transport) {
	if r := recover(); r != nil {
		h.metrics.servfail(causePanic)
		h.cfg.Logger.Error("panic answering query", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*resp = errorResponse(in, out, dns.RcodeServerFailure)
		h.metrics.count(tr, dns.RcodeServerFailure)
	}
}

// fromCache answers a plain UDP query from the packet cache or, for a missing name of a
// chain-signed zone, from prepared denial pieces; resp is nil when the full path must answer,
// and hash and now are then what storing its answer needs.
func (h *Handler) fromCache(in, out []byte, q *fastQuery) (resp []byte, hash uint64, now int64) {
	now = h.cfg.Now().Unix()
	if resp, hash = h.pcache.lookup(q, in, out, now); resp != nil {
		h.metrics.count(udp, int(resp[3]&0xF))
		return resp, hash, now
	}
	if resp = h.preparedUDP(in, out, q, h.cfg.Now()); resp != nil {
		h.metrics.count(udp, dns.RcodeNameError)
		return resp, hash, now
	}
	return nil, hash, now
}

// notPlainQuery answers the messages the pipeline does not: an IXFR over UDP and a
// TSIG-signed UDP query. ok is false for everything else.
func (h *Handler) notPlainQuery(in []byte, req *dns.Msg, tr transport, client netip.Addr) (resp []byte, ok bool) {
	if tr != udp {
		return nil, false
	}
	if t := h.cfg.Transfers; t != nil && isIXFR(req) {
		// Over UDP an IXFR gets the current SOA alone: the client, when behind, retries over
		// TCP (RFC 1995 §2), as BIND and Knot secondaries do.
		// A copy: req handed to the interface would escape to the heap on every query that
		// takes the full path, not only on an IXFR.
		r := *req
		if resp, ok := t.IXFRUDP(in, &r, client); ok {
			if len(resp) >= headerSize {
				h.metrics.count(tr, int(resp[3]&0xF))
			}
			return resp, true
		}
	}
	if req.IsTsig() != nil {
		return h.signedUDP(in, req, client), true
	}
	return nil, false
}

// cachedUDP answers a UDP query from the packet cache alone: it returns nil when the query
// needs the full path. The readers call it inline and hand misses to the workers, so that
// answers that need signing (a random-name flood, say) cannot starve the cached ones.
func (h *Handler) cachedUDP(in, out []byte, from net.Addr) []byte {
	var q fastQuery
	if !isQuery(in) || !h.cacheKey(in, &q) {
		return nil
	}
	var cookieData []byte
	if h.cfg.Cookies != nil && in[11] == 1 {
		cookieData, _ = queryCookie(in)
	}
	now := h.cfg.Now()
	resp, _ := h.pcache.peek(&q, in, out, now.Unix())
	if resp == nil {
		// A missing name in a chain denial mode needs no signing: answered here, in the
		// reader, like a cached answer (a miss for the cache's counters).
		if resp = h.preparedInReader(in, out, &q, now); resp != nil {
			h.pcache.misses.Add(1)
		}
	}
	if resp != nil && cookieData != nil {
		// Cached and prepared answers hold no cookie: this client's is added to its copy.
		resp = h.appendCookie(resp, cookieData, addrOf(from), q.size)
	}
	if resp != nil {
		h.metrics.count(udp, int(resp[3]&0xF))
	}
	return resp
}

// isQuery reports whether in can be a query at all: at least a header, and QR clear.
func isQuery(in []byte) bool { return len(in) >= headerSize && in[2]&0x80 == 0 }

// cacheable is the packet cache's prologue, shared by both of its paths: it parses a UDP
// query into its cache key q, generations included, and reports false when there is no cache
// or the query is not plain enough for one (see fastQuery).
func (h *Handler) cacheable(in []byte, q *fastQuery) bool {
	if !h.cacheKey(in, q) {
		return false
	}
	if h.cfg.Cookies != nil && in[11] == 1 {
		// The response will carry a server cookie made for this client: not one to keep.
		// (cachedUDP answers such queries from the cache, adding the cookie to a copy.)
		if _, ok := queryCookie(in); ok {
			return false
		}
	}
	return true
}

// cacheKey parses a UDP query into its cache key q, generations included; false when there is
// no cache or the query is not plain enough for one (see fastQuery).
func (h *Handler) cacheKey(in []byte, q *fastQuery) bool {
	if h.pcache == nil || !parseFast(in, h.cfg.UDPSize, q) {
		return false
	}
	var kg uint64
	if h.keys != nil {
		kg = h.keys.Generation()
	}
	q.addGenerations(h.zones.Generation(), kg)
	return true
}

// pack fits m into size bytes and packs it into out.
func (h *Handler) pack(m *dns.Msg, size int, out, in []byte, tr transport) []byte {
	referral := !m.Authoritative && len(m.Ns) > 0 && m.Rcode == dns.RcodeSuccess
	fitResponse(m, size, referral)
	if m.Truncated {
		h.metrics.truncated.Inc()
	}
	m.Compress = true
	b, err := m.PackBuffer(out)
	if err != nil {
		h.cfg.Logger.Error("packing response", "err", err)
		h.metrics.servfail(causePack)
		h.metrics.count(tr, dns.RcodeServerFailure)
		return errorResponse(in, out, dns.RcodeServerFailure)
	}
	h.metrics.count(tr, m.Rcode)
	return b
}

// errorResponse answers a message that could not be parsed (or whose answer could not be
// built) with a bare header: the ID and opcode echoed, QR set, every count zero. The question
// is not echoed, since it may be what is malformed.
func errorResponse(in, out []byte, rcode int) []byte {
	out = append(out[:0], make([]byte, headerSize)...)
	copy(out[0:2], in[0:2])
	flags := binary.BigEndian.Uint16(in[2:4])
	// Keep opcode and RD; set QR; the rcode in the low four bits.
	flags = flags&(0x7800|0x0100) | 0x8000 | uint16(rcode&0xF)
	binary.BigEndian.PutUint16(out[2:4], flags)
	return out
}

// countsMatch reports whether the sections hold as many records as the header claims:
// miekg/dns stops quietly at the end of the data, but a header that promises records the
// message lacks is malformed (RFC 1035 §4.1.1).
func countsMatch(m *dns.Msg, in []byte) bool {
	return int(binary.BigEndian.Uint16(in[4:])) == len(m.Question) &&
		int(binary.BigEndian.Uint16(in[6:])) == len(m.Answer) &&
		int(binary.BigEndian.Uint16(in[8:])) == len(m.Ns) &&
		int(binary.BigEndian.Uint16(in[10:])) == len(m.Extra)
}

// ServeUDP answers one query received over UDP (see ServePacket). Benchmarks and fuzzers use it
// to drive the whole pipeline without sockets.
func (h *Handler) ServeUDP(in, out []byte) []byte { return h.ServePacket(in, out, udp) }
