package zones

import (
	"errors"

	"github.com/miekg/dns"
)

// FromRecords builds a zone from records that did not come from a master file (a zone
// transfer, say). It applies the checks and the DNSSEC filtering of Parse; source names the
// origin of the records in errors (for example "AXFR from 192.0.2.1:53"), and the position of
// a record in rrs stands for its line. The records are copied: the caller keeps its slice.
func FromRecords(origin string, rrs []dns.RR, source string, opt Options) (*Zone, error) {
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, &ParseError{File: source, Msg: "bad zone origin " + origin}
	}
	origin = dns.CanonicalName(origin)
	entries := make([]entry, len(rrs))
	for i, rr := range rrs {
		entries[i] = entry{rr: dns.Copy(rr), file: source, line: i + 1}
	}
	z, findings := build(entries, origin, source, opt)
	var errs []error
	for _, f := range findings {
		if f.fatal {
			errs = append(errs, &ParseError{File: f.File, Line: f.Line, Msg: f.Msg})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return z, nil
}

// Unavailable returns a placeholder for a zone that is configured but has no data that may be
// served yet: a secondary zone not transferred yet. It holds no records; answerers check
// Available and answer SERVFAIL, as a secondary must, rather than REFUSED or the parent zone's
// data.
func Unavailable(origin string) *Zone {
	return &Zone{origin: dns.CanonicalName(origin), nodes: map[string]*node{}, unavailable: true}
}

// Expired returns the placeholder for a secondary zone whose SOA expire time has passed
// without a successful refresh (RFC 1035 §3.3.13): like Unavailable, but Expired reports true,
// so that answers can say why (no primary could be reached, rather than not loaded yet).
func Expired(origin string) *Zone {
	z := Unavailable(origin)
	z.expired = true
	return z
}

// Available reports whether the zone has data to answer from (false for Unavailable and
// Expired).
func (z *Zone) Available() bool { return !z.unavailable }

// Expired reports whether the zone is the placeholder of an expired secondary (see Expired).
func (z *Zone) Expired() bool { return z.expired }
