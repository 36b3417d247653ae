package server

import (
	"encoding/binary"
	"encoding/hex"
	"net/netip"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/cookie"
)

// validateCookie is the DNS Cookies step (RFC 7873) of the full path: it notes the query's
// client cookie, so that the response carries a server cookie for it, and answers FORMERR to
// a COOKIE option of a length RFC 7873 §5.2.2 forbids. A missing, new or bad server cookie
// changes nothing else here: RFC 7873 §5.2.3 and §5.2.4 let the server answer normally, and
// the rate-limiting step decides when a BADCOOKIE is worth more than an answer.
func (h *Handler) validateCookie(x *request) bool {
	if h.cfg.Cookies == nil || x.opt == nil {
		return true
	}
	for _, o := range x.opt.Option {
		c, ok := o.(*dns.EDNS0_COOKIE)
		if !ok {
			continue
		}
		// Only the first COOKIE option counts (RFC 7873 §5.2).
		data, err := hex.DecodeString(c.Cookie)
		client, _, v := cookie.Parse(data)
		if err != nil || v == cookie.Malformed {
			x.m.Rcode = dns.RcodeFormatError
			return false
		}
		copy(x.cookie[:], client)
		x.hasCookie = true
		return true
	}
	return true
}

// addCookie gives the response a fresh server cookie for the query's client cookie, whatever
// the outcome (RFC 7873 §5.2.3): a client learns it from its first query.
func (h *Handler) addCookie(x *request) {
	if !x.hasCookie || x.ropt == nil || !x.client.IsValid() {
		return
	}
	s := h.cfg.Cookies.Make(x.cookie[:], x.client, h.cfg.Now())
	x.ropt.Option = append(x.ropt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE,
		Cookie: hex.EncodeToString(x.cookie[:]) + hex.EncodeToString(s[:])})
}

// queryCookie returns the COOKIE option of a query in wire form (a question and one OPT, as
// clients send them), without allocating; ok is false when there is none or the message has
// another shape.
func queryCookie(in []byte) (data []byte, ok bool) {
	if len(in) < headerSize || binary.BigEndian.Uint16(in[4:]) != 1 || binary.BigEndian.Uint16(in[10:]) != 1 ||
		in[6]|in[7]|in[8]|in[9] != 0 {
		return nil, false
	}
	off := headerSize
	for {
		if off >= len(in) {
			return nil, false
		}
		l := int(in[off])
		if l == 0 {
			off++
			break
		}
		if l > 63 {
			return nil, false
		}
		off += 1 + l
	}
	off += 4 // qtype, qclass
	// The OPT: root owner, type 41, class, TTL, RDLENGTH, then the options.
	if off+11 > len(in) || in[off] != 0 || binary.BigEndian.Uint16(in[off+1:]) != dns.TypeOPT {
		return nil, false
	}
	opts := in[off+11:]
	if rdlen := int(binary.BigEndian.Uint16(in[off+9:])); rdlen != len(opts) {
		return nil, false
	}
	for len(opts) >= 4 {
		code, n := binary.BigEndian.Uint16(opts), int(binary.BigEndian.Uint16(opts[2:]))
		if 4+n > len(opts) {
			return nil, false
		}
		if code == cookie.OptionCode {
			return opts[4 : 4+n], true
		}
		opts = opts[4+n:]
	}
	return nil, false
}

// cookieOf parses the query's COOKIE and checks its server cookie for client at now.
func (h *Handler) cookieOf(query []byte, client netip.Addr) (clientCookie []byte, v cookie.Verdict) {
	data, ok := queryCookie(query)
	if !ok {
		return nil, cookie.None
	}
	c, s, v := cookie.Parse(data)
	if v == cookie.Invalid {
		if valid, _ := h.cfg.Cookies.Verify(c, s, client, h.cfg.Now()); valid {
			v = cookie.Valid
		}
	}
	return c, v
}

// badCookie rewrites a packed response in place into BADCOOKIE (RFC 7873 §5.2.3): the header
// and the question, no records, and an OPT holding the client cookie with a fresh server
// cookie, which the client sends back to be answered. It is smaller than most queries, so it
// amplifies nothing; nil when the response cannot be cut.
func (h *Handler) badCookie(resp, clientCookie []byte, client netip.Addr) []byte {
	end := questionEnd(resp)
	if end < 0 || len(clientCookie) != cookie.ClientLen {
		return nil
	}
	s := h.cfg.Cookies.Make(clientCookie, client, h.cfg.Now())
	resp = resp[:end]
	resp[2] &^= 0x06 // AA, TC
	resp[3] = resp[3]&0xF0 | cookie.BadCookie&0x0F
	binary.BigEndian.PutUint16(resp[6:], 0)
	binary.BigEndian.PutUint16(resp[8:], 0)
	binary.BigEndian.PutUint16(resp[10:], 1)
	resp = append(resp, 0, byte(dns.TypeOPT>>8), byte(dns.TypeOPT)) // root owner, type OPT
	resp = binary.BigEndian.AppendUint16(resp, h.cfg.UDPSize)
	resp = append(resp, cookie.BadCookie>>4, 0, 0, 0) // extended rcode, version 0, flags
	resp = binary.BigEndian.AppendUint16(resp, 4+cookie.ClientLen+cookie.ServerLen)
	resp = binary.BigEndian.AppendUint16(resp, cookie.OptionCode)
	resp = binary.BigEndian.AppendUint16(resp, cookie.ClientLen+cookie.ServerLen)
	resp = append(resp, clientCookie...)
	return append(resp, s[:]...)
}

// questionEnd returns the offset just past a message's only question, or -1.
func questionEnd(msg []byte) int {
	if len(msg) < headerSize || binary.BigEndian.Uint16(msg[4:]) != 1 {
		return -1
	}
	i := skipName(msg, headerSize)
	if i < 0 || i+4 > len(msg) {
		return -1
	}
	return i + 4
}

// appendCookie adds a COOKIE option (the client cookie of data and a fresh server cookie for
// client) to the OPT that ends a packed response, in place, without allocating when resp has
// room. It returns nil, for the full path to answer, when the data is malformed, the client
// unknown, the response's OPT already has options, or the cookie would not fit size.
func (h *Handler) appendCookie(resp, data []byte, client netip.Addr, size int) []byte {
	c, _, v := cookie.Parse(data)
	n := len(resp)
	const opt = 11 // root owner, type, class, TTL, RDLENGTH
	if v == cookie.Malformed || !client.IsValid() || n < headerSize+opt {
		return nil
	}
	o := resp[n-opt:]
	if o[0] != 0 || binary.BigEndian.Uint16(o[1:]) != dns.TypeOPT || binary.BigEndian.Uint16(o[9:]) != 0 {
		return nil
	}
	const add = 4 + cookie.ClientLen + cookie.ServerLen
	if n+add > size {
		return nil
	}
	s := h.cfg.Cookies.Make(c, client, h.cfg.Now())
	binary.BigEndian.PutUint16(o[9:], add)
	resp = binary.BigEndian.AppendUint16(resp, cookie.OptionCode)
	resp = binary.BigEndian.AppendUint16(resp, cookie.ClientLen+cookie.ServerLen)
	resp = append(resp, c...)
	return append(resp, s[:]...)
}
