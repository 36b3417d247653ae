package signer

import "github.com/miekg/dns"

// FlagCO is the Compact Answers OK (CO) flag of RFC 9824 §5: bit 1 of the EDNS header flags
// (the bit after DO), i.e. 0x4000 in the 16-bit flags field that the OPT record carries in the
// low half of its TTL (RFC 6891 §6.1.3).
const FlagCO = 0x4000

// CompactOK reports whether the query's OPT record sets the CO flag, asking that a compact
// denial of a missing name keep the NXDOMAIN rcode (RFC 9824 §5). A nil opt (no EDNS) is false.
// The server copies the result into Input.CompactOK, and per RFC 9824 §5 sets CO in its own
// OPT record when it answers such a query.
func CompactOK(opt *dns.OPT) bool {
	return opt != nil && opt.Hdr.Ttl&FlagCO != 0
}
