package server

import (
	"strconv"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Extended DNS Errors (RFC 8914) say why a query got an error rcode, for resolver logs and the
// people reading them. The codes Signet uses:
//
//   - 20 Not Authoritative: REFUSED for a name outside every zone served, or a class other
//     than IN and CHAOS.
//   - 21 Not Supported: NOTIMP for an opcode other than QUERY or a query type that is not
//     served (MAILA, MAILB, TKEY, TSIG), and REFUSED for AXFR/IXFR where transfers are not
//     served.
//   - 30 Invalid Query Type: FORMERR for a query of the NXNAME (RFC 9824 §3.5) or OPT meta-type.
//   - 14 Not Ready: SERVFAIL for a zone that has no data: a secondary not transferred yet, or
//     a zone file that failed to load; and for a zone withheld (ZoneSet.Hold) because its
//     DNSSEC keys or key state could not be read at start. That is this server's state, not
//     the data's (RFC 8914 §4.15: "not fully functional"), and a reload can end it: the
//     validation codes (6 DNSSEC Bogus, 9 DNSKEY Missing, 10 RRSIGs Missing) report what a
//     resolver found in answers, and 0 Other is what a query gets when signing it fails.
//   - 22 No Reachable Authority: SERVFAIL for a secondary zone past its SOA expire time, its
//     primaries unreachable (RFC 1035 §3.3.13).
//   - 0 Other: SERVFAIL because signing failed. The text only says so: the cause (a key name,
//     a TPM error) is in the server's log, never in an answer.
//
// An EDE travels in the OPT record, so a query without EDNS gets none (RFC 8914 §2).
var edeCodes = []uint16{
	dns.ExtendedErrorCodeOther,
	dns.ExtendedErrorCodeNotReady,
	dns.ExtendedErrorCodeNotAuthoritative,
	dns.ExtendedErrorCodeNotSupported,
	dns.ExtendedErrorCodeNoReachableAuthority,
	dns.ExtendedErrorCodeInvalidQueryType,
}

// edeTextSigning is the extra text of a signing failure: short, fixed, and free of anything
// secret. (An unavailable zone's text is its zones.Zone.Reason, which names no file.)
const edeTextSigning = "signing failed"

// fail settles the response with rcode and, when the query has EDNS, the extended error code
// with its extra text ("" for none). It returns false, so that a step can end with it.
func (h *Handler) fail(x *request, rcode int, code uint16, text string) bool {
	x.m.Rcode = rcode
	if x.ropt == nil {
		return false
	}
	x.ropt.Option = append(x.ropt.Option, &dns.EDNS0_EDE{InfoCode: code, ExtraText: text})
	h.metrics.extendedError(code)
	return false
}

// newEDECounters resolves the counter of every code used, once: counting then costs no map
// lookup or allocation.
func newEDECounters(vec *prometheus.CounterVec) map[uint16]prometheus.Counter {
	m := make(map[uint16]prometheus.Counter, len(edeCodes))
	for _, c := range edeCodes {
		m[c] = vec.WithLabelValues(strconv.Itoa(int(c)), dns.ExtendedErrorCodeToString[c])
	}
	return m
}
