package server

import "github.com/miekg/dns"

// responseOPT is the OPT record of a response to a query that carried opt (RFC 6891 §6.1.1):
// our payload size, DO echoed (RFC 3225 §3), version 0.
func (h *Handler) responseOPT(opt *dns.OPT) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: h.cfg.UDPSize}}
	if opt.Do() {
		o.SetDo()
	}
	return o
}

// useOPT records the query's well-formed OPT and adds the response's own.
func (h *Handler) useOPT(x *request, opt *dns.OPT) {
	x.opt, x.ropt = opt, h.responseOPT(opt)
	x.m.Extra = append(x.m.Extra, x.ropt)
}

// findOPT returns the request's OPT record; bad is true when there are several or it is not
// owned by the root.
func findOPT(req *dns.Msg) (opt *dns.OPT, bad bool) {
	for _, rr := range req.Extra {
		o, ok := rr.(*dns.OPT)
		if !ok {
			continue
		}
		if opt != nil || o.Hdr.Name != "." {
			return nil, true
		}
		opt = o
	}
	return opt, false
}

func keepOPT(extra []dns.RR) []dns.RR {
	for _, rr := range extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			return []dns.RR{rr}
		}
	}
	return nil
}

// setCompactOK sets the Compact-answers-OK flag (CO, RFC 9824 §5.1: the EDNS header flag after
// DO) in the response's OPT.
func setCompactOK(m *dns.Msg) {
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			o.SetCo()
			return
		}
	}
}

// payloadSize is the largest UDP response this query may get (RFC 6891 §6.2.5): the client's
// advertised size, never below 512 and never above what we advertise ourselves.
func payloadSize(opt *dns.OPT, ours uint16) int {
	if opt == nil {
		return dns.MinMsgSize
	}
	size := int(opt.UDPSize())
	if size < dns.MinMsgSize {
		size = dns.MinMsgSize
	}
	if size > int(ours) {
		size = int(ours)
	}
	return size
}

// fitResponse makes m fit in size bytes. Additional records are optional (RFC 2181 §9) and go
// first; if the answer or authority still does not fit, the response is emptied and TC set,
// so that the client retries over TCP: cutting an RRset or its RRSIG would make it bogus
// (RFC 4035 §3.1.1). A referral whose in-bailiwick glue does not fit is truncated too
// (RFC 9471 §3).
func fitResponse(m *dns.Msg, size int, referral bool) {
	if m.Len() <= size {
		return
	}
	opt := keepOPT(m.Extra)
	glueDropped := referral && len(m.Extra) > len(opt)
	m.Extra = opt
	if !glueDropped && m.Len() <= size {
		return
	}
	m.Answer, m.Ns = nil, nil
	m.Truncated = true
}
