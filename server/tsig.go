package server

import (
	"net/netip"
	"time"

	"github.com/miekg/dns"
)

// Queries signed with TSIG (RFC 8945) come from secondaries checking a zone's SOA before a
// transfer (Knot, and BIND with a key for the server, sign them): their answers must be signed
// with the same key or the secondary discards them. Only the keys of the zone-transfer
// configuration are known; a query signed with another, or with a bad MAC, gets NOTAUTH
// unsigned (RFC 8945 §5.2). They are rare, so they skip the packet cache.

// signedUDP answers a query that carries a TSIG record, over UDP; in is the query as received.
func (h *Handler) signedUDP(in []byte, req *dns.Msg, client netip.Addr) []byte {
	t := req.IsTsig()
	secret, ok := h.tsigSecret(t.Hdr.Name)
	if !ok || dns.TsigVerify(in, secret, "", false) != nil {
		h.metrics.count(udp, dns.RcodeNotAuth)
		return errorResponse(in, nil, dns.RcodeNotAuth)
	}
	m, size, _ := h.respond(req, udp, client)
	m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
	out, _, err := dns.TsigGenerate(m, secret, t.MAC, false)
	if err == nil && len(out) > size {
		// Too large with its signature: truncated, signed, the client retries over TCP.
		m.Answer, m.Ns, m.Extra = nil, nil, keepOPT(m.Extra)
		m.Truncated = true
		m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		out, _, err = dns.TsigGenerate(m, secret, t.MAC, false)
	}
	if err != nil {
		h.cfg.Logger.Warn("signing a TSIG answer failed", "key", t.Hdr.Name, "err", err)
		h.metrics.count(udp, dns.RcodeServerFailure)
		return errorResponse(in, nil, dns.RcodeServerFailure)
	}
	h.metrics.count(udp, m.Rcode)
	return out
}

// signedTCP answers a query that carries a TSIG record, over TCP: the TCP server has verified
// it with the same keys (w.TsigStatus) and signs what WriteMsg sends.
func (h *Handler) signedTCP(w dns.ResponseWriter, req *dns.Msg) {
	t := req.IsTsig()
	if _, ok := h.tsigSecret(t.Hdr.Name); !ok || w.TsigStatus() != nil {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeNotAuth)
		h.metrics.count(tcp, dns.RcodeNotAuth)
		w.WriteMsg(m)
		return
	}
	m, _, _ := h.respond(req, tcp, addrOf(w.RemoteAddr()))
	m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
	h.metrics.count(tcp, m.Rcode)
	w.WriteMsg(m)
}

func (h *Handler) tsigSecret(name string) (string, bool) {
	if h.cfg.Transfers == nil {
		return "", false
	}
	s, ok := h.tsig[dns.CanonicalName(name)]
	return s, ok
}
