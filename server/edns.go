package server

import "github.com/miekg/dns"

// flagCO is the Compact-answers-OK EDNS header flag of RFC 9824 §3.5: the bit after DO, the
// second most significant bit of the 16-bit flags field (which miekg/dns keeps in the low 16
// bits of the OPT's TTL).
const flagCO = 1 << 14

func compactOK(opt *dns.OPT) bool { return opt.Hdr.Ttl&flagCO != 0 }

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
