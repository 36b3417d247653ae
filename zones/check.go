package zones

import (
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Problem is one finding of Check.
type Problem struct {
	File     string
	Line     int    // 0 when the problem belongs to no single record (a missing SOA)
	Severity string // "error" or "warning"
	Msg      string
}

// String formats the problem as "file:line: severity: msg", the way compilers and
// named-checkzone do, so that editors can jump to it.
func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
	}
	return s + ": " + p.Severity + ": " + p.Msg
}

// Check reads a master file like Parse and reports every problem it finds, like
// named-checkzone: syntax errors (the first one ends the check: the parser cannot go on), a
// missing or repeated SOA, no NS at the apex, records out of zone or in a class other than IN, a
// CNAME beside other data, more than one DNAME at a name, an NS target at or below a zone cut
// without glue (errors); an in-zone NS target that does not exist or has no address, TTLs over
// one week, RRsets with mixed TTLs, duplicate records and data hidden below a zone cut or a
// DNAME (warnings). Problems come sorted by file
// and line.
//
// Lines are those on which each record starts, counted as the parser reads (see parseFile);
// a problem about an RRset names its first record.
func Check(r io.Reader, origin, filename string) []Problem {
	if _, ok := dns.IsDomainName(origin); !ok {
		return []Problem{{File: displayName(filename), Severity: "error", Msg: "bad zone origin " + strconv.Quote(origin)}}
	}
	origin = dns.CanonicalName(origin)
	_, findings, err := build(func(emit func(entry)) error {
		return parseFile(r, origin, filename, emit)
	}, origin, displayName(filename), Options{}, recordsIn(r))
	var out []Problem
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			out = append(out, Problem{File: pe.File, Line: pe.Line, Severity: "error", Msg: pe.Msg})
		} else {
			out = append(out, Problem{File: displayName(filename), Severity: "error", Msg: err.Error()})
		}
		// The records after the syntax error are unknown: a missing SOA or glue may be there,
		// so only the findings about single records already read are reported.
		for _, f := range findings {
			if !f.whole {
				out = append(out, f.Problem)
			}
		}
		sortProblems(out)
		return out
	}
	for _, f := range findings {
		out = append(out, f.Problem)
	}
	return out
}

func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(x, y Problem) int {
		if c := strings.Compare(x.File, y.File); c != 0 {
			return c
		}
		return x.Line - y.Line
	})
}

// CheckFile runs Check on the file at path.
func CheckFile(origin, path string) []Problem {
	f, err := os.Open(path)
	if err != nil {
		return []Problem{{File: path, Severity: "error", Msg: err.Error()}}
	}
	defer f.Close()
	return Check(f, origin, path)
}
