package zones

import "github.com/miekg/dns"

// FromRecords builds a zone from records that did not come from a master file (a zone
// transfer, say). It applies the checks and the DNSSEC filtering of Parse; source names the
// origin of the records in errors (for example "AXFR from 192.0.2.1:53"), and the position of
// a record in rrs stands for its line. The records are packed, not kept: the caller keeps its
// slice.
func FromRecords(origin string, rrs []dns.RR, source string, opt Options) (*Zone, error) {
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, &ParseError{File: source, Msg: "bad zone origin " + origin}
	}
	origin = dns.CanonicalName(origin)
	z, findings, _ := build(func(emit func(entry)) error {
		for i, rr := range rrs {
			emit(entry{rr: rr, file: source, line: i + 1})
		}
		return nil
	}, origin, source, opt, len(rrs))
	if err := fatal(findings); err != nil {
		return nil, err
	}
	return z, nil
}

// Unavailable returns a placeholder for a zone that is configured but has no data that may be
// served yet: a secondary zone not transferred yet. It holds no records; answerers check
// Available and answer SERVFAIL, as a secondary must, rather than REFUSED or the parent zone's
// data.
func Unavailable(origin string) *Zone {
	return &Zone{origin: dns.CanonicalName(origin), unavailable: true}
}

// Failed returns a placeholder, like Unavailable, for a zone whose data failed to load (a zone
// file that does not parse). reason is told to clients in an Extended DNS Error (RFC 8914), so
// it names no file: the file and line go to the operator's logs.
func Failed(origin, reason string) *Zone {
	z := Unavailable(origin)
	z.reason = reason
	return z
}

// Expired returns a placeholder, like Failed, for a secondary zone whose SOA expire time has
// passed without a successful refresh (RFC 1035 §3.3.13): its data may not be served any more.
func Expired(origin, reason string) *Zone {
	z := Failed(origin, reason)
	z.expired = true
	return z
}

// IsExpired reports whether the zone is an Expired placeholder.
func (z *Zone) IsExpired() bool { return z.expired }

// Reason says why an unavailable zone has no data ("" when Unavailable gave none).
func (z *Zone) Reason() string { return z.reason }

// Available reports whether the zone has data to answer from (false for Unavailable).
func (z *Zone) Available() bool { return !z.unavailable }
