package xfr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// errFallback marks an IXFR answer that cannot be applied to the copy held; the secondary
// then asks for the whole zone (RFC 1995 §4 lets a client fall back to AXFR).
var errFallback = errors.New("IXFR cannot be applied")

// ixfrResult is what an IXFR answer (RFC 1995 §4) says.
type ixfrResult struct {
	upToDate bool     // a single SOA with the serial held: nothing to do
	full     bool     // an AXFR-style answer: rrs is the whole zone
	rrs      []dns.RR // the new zone (SOA first), unless upToDate
}

// applyIXFR interprets the records of an IXFR answer against the copy held (have, SOA first).
// Errors that wrap errFallback mean "ask for an AXFR"; others mean the answer is unusable.
func applyIXFR(have []dns.RR, all []dns.RR) (ixfrResult, error) {
	if len(all) == 0 {
		return ixfrResult{}, errors.New("empty IXFR answer")
	}
	newSOA, ok := all[0].(*dns.SOA)
	if !ok {
		return ixfrResult{}, errors.New("IXFR answer does not start with an SOA")
	}
	haveSOA := have[0].(*dns.SOA)
	switch serialCmp(haveSOA.Serial, newSOA.Serial) {
	case 0:
		if len(all) == 1 {
			return ixfrResult{upToDate: true}, nil
		}
	case 1:
		return ixfrResult{}, fmt.Errorf("serial went backwards: the primary has %d, this copy %d", newSOA.Serial, haveSOA.Serial)
	}
	if len(all) == 1 {
		// A lone newer SOA: the primary cannot send the difference here.
		return ixfrResult{}, fmt.Errorf("%w: the primary answered with serial %d only", errFallback, newSOA.Serial)
	}
	last, ok := all[len(all)-1].(*dns.SOA)
	if !ok || last.Serial != newSOA.Serial {
		return ixfrResult{}, fmt.Errorf("%w: the answer does not end with the SOA it started with (cut short?)", errFallback)
	}
	if _, ok := all[1].(*dns.SOA); !ok {
		// AXFR-style (RFC 1995 §4): the whole zone between the two SOAs.
		return ixfrResult{full: true, rrs: all[:len(all)-1]}, nil
	}

	// Incremental: (old SOA, deletions, new SOA, additions)+ then the final SOA.
	cur := newRRSet(have[1:])
	curSOA := haveSOA
	i := 1
	for i < len(all)-1 {
		from, ok := all[i].(*dns.SOA)
		if !ok {
			return ixfrResult{}, errors.New("malformed IXFR answer: a difference does not start with an SOA")
		}
		if from.Serial != curSOA.Serial {
			return ixfrResult{}, fmt.Errorf("%w: a difference starts at serial %d, this copy is at %d", errFallback, from.Serial, curSOA.Serial)
		}
		i++
		for ; i < len(all) && !isSOA(all[i]); i++ {
			if !cur.remove(all[i]) {
				return ixfrResult{}, fmt.Errorf("%w: it deletes %s, which this copy does not hold", errFallback, brief(all[i]))
			}
		}
		if i >= len(all)-1 {
			return ixfrResult{}, errors.New("malformed IXFR answer: a difference has deletions but no new SOA")
		}
		to := all[i].(*dns.SOA)
		if !serialNewer(from.Serial, to.Serial) {
			return ixfrResult{}, fmt.Errorf("malformed IXFR answer: a difference goes from serial %d to %d", from.Serial, to.Serial)
		}
		i++
		for ; i < len(all) && !isSOA(all[i]); i++ {
			cur.add(all[i])
		}
		curSOA = to
	}
	if curSOA.Serial != newSOA.Serial {
		return ixfrResult{}, fmt.Errorf("%w: the differences end at serial %d, not %d", errFallback, curSOA.Serial, newSOA.Serial)
	}
	return ixfrResult{rrs: append([]dns.RR{newSOA}, cur.list()...)}, nil
}

func isSOA(rr dns.RR) bool { return rr.Header().Rrtype == dns.TypeSOA }

// brief names a record in a log line: owner and type.
func brief(rr dns.RR) string {
	return rr.Header().Name + " " + dns.TypeToString[rr.Header().Rrtype]
}

// rrSet is a set of records keyed by owner (any case), class, type and RDATA, TTL ignored
// (RFC 1995 deletions name records, not TTLs), that keeps the order records were added in.
type rrSet struct {
	idx map[string]int
	rrs []dns.RR // nil where removed
}

func newRRSet(rrs []dns.RR) *rrSet {
	s := &rrSet{idx: make(map[string]int, len(rrs)), rrs: make([]dns.RR, 0, len(rrs))}
	for _, rr := range rrs {
		s.add(rr)
	}
	return s
}

func rrKey(rr dns.RR) string {
	h := rr.Header()
	rdata := rr.String()[len(h.String()):]
	return fmt.Sprintf("%s %d %d %s", strings.ToLower(h.Name), h.Class, h.Rrtype, rdata)
}

func (s *rrSet) add(rr dns.RR) {
	k := rrKey(rr)
	if i, ok := s.idx[k]; ok {
		s.rrs[i] = rr // the same record, perhaps with a new TTL
		return
	}
	s.idx[k] = len(s.rrs)
	s.rrs = append(s.rrs, rr)
}

func (s *rrSet) remove(rr dns.RR) bool {
	k := rrKey(rr)
	i, ok := s.idx[k]
	if !ok {
		return false
	}
	delete(s.idx, k)
	s.rrs[i] = nil
	return true
}

func (s *rrSet) list() []dns.RR {
	out := make([]dns.RR, 0, len(s.idx))
	for _, rr := range s.rrs {
		if rr != nil {
			out = append(out, rr)
		}
	}
	return out
}
