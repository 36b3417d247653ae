package zones

import (
	"errors"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// ParseError is a zone file that cannot be served: a syntax error found by the master-file
// parser (Err then wraps the *dns.ParseError), or a semantic one found at load (no SOA, record
// out of zone, ...). Its message names the file and the line so that an operator can fix it;
// Col is 0 when unknown and Line is 0 when the problem belongs to no single record.
type ParseError struct {
	File string
	Line int
	Col  int
	Msg  string
	Err  error // the underlying *dns.ParseError or I/O error, if any
}

// Error implements error as "file:line:col: msg" (omitting unknown parts).
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// fromDNSError turns the parser's error into a *ParseError. dns.ParseError keeps its position in
// unexported fields, so the position is read back from its message, whose shape
// ("file: dns: msg: \"token\" at line: L:C") has been stable since the ZoneParser appeared.
// names maps the file names the parser knows to the names the operator gave.
func fromDNSError(err error, fallbackFile string, names func(string) string) *ParseError {
	pe := &ParseError{File: fallbackFile, Msg: err.Error(), Err: err}
	var de *dns.ParseError
	if !errors.As(err, &de) {
		return pe
	}
	s := de.Error()
	if i := strings.LastIndex(s, " at line: "); i >= 0 {
		pos := s[i+len(" at line: "):]
		if l, c, ok := strings.Cut(pos, ":"); ok {
			pe.Line, _ = strconv.Atoi(l)
			pe.Col, _ = strconv.Atoi(c)
		}
		s = s[:i]
	}
	if i := strings.Index(s, "dns: "); i >= 0 {
		if i >= 2 && s[i-2:i] == ": " {
			pe.File = names(s[:i-2])
		}
		s = s[i+len("dns: "):]
	}
	pe.Msg = s
	return pe
}
