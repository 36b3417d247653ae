package zones

import (
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// With returns a new snapshot holding z's records and extra, checked and indexed as a loaded
// zone is (empty non-terminals, the canonical order the NSEC chain follows, cuts, wildcards).
// An RRset of extra replaces the RRset of the same owner and type in z. Data that the server
// makes itself, and not the file, uses it: the RFC 9615 signalling records a signed zone
// publishes for the children whose name servers it holds. z is not changed, and its records
// are read, never modified (other goroutines read them). The error names what stops the
// build, as Parse's would.
func (z *Zone) With(extra []dns.RR, opt Options) (*Zone, error) {
	if !z.Available() {
		return nil, fmt.Errorf("zone %s has no data to extend", z.origin)
	}
	type key struct {
		owner string
		typ   uint16
	}
	replaced := make(map[key]bool, len(extra))
	for _, rr := range extra {
		if rr == nil {
			return nil, errors.New("zones: nil record")
		}
		h := rr.Header()
		replaced[key{dns.CanonicalName(h.Name), h.Rrtype}] = true
	}
	nz, findings, _ := build(func(emit func(entry)) error {
		for _, rr := range extra {
			emit(entry{rr: rr, file: "(signalling records)"})
		}
		for i := range z.nodes {
			n := &z.nodes[i]
			name := z.nameOf(n)
			for _, s := range z.setsOf(n) {
				if replaced[key{name, s.typ}] {
					continue
				}
				for _, rr := range unpack(z.wire, name, &s) {
					emit(entry{rr: rr, file: "(" + z.origin + ")"})
				}
			}
		}
		return nil
	}, z.origin, z.origin, opt, len(extra)+len(z.sets))
	var errs []error
	for _, f := range findings {
		if f.fatal {
			errs = append(errs, errors.New(f.Msg))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("zone %s: %w", z.origin, errors.Join(errs...))
	}
	nz.dropped = z.dropped
	return nz, nil
}
