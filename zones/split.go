package zones

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
)

// A big master file is parsed in pieces on every core: the parser is most of a load's CPU.
// A piece starts at a line that holds one whole record and begins with its owner name (no
// parenthesis, quote or escaped newline, not after a directive), so that the parser needs
// nothing of the lines before it but the $ORIGIN and $TTL directives in force there, which a
// scan of the file (a byte loop, much cheaper than parsing) collects and puts in front of the
// piece. Without a $TTL no piece starts: a record without a TTL would take the last one
// written before it. At an $INCLUDE, a $GENERATE or any other directive the scan stops
// cutting: the rest of the file is one piece, parsed as the whole file would be.
//
// The parser reads to the end of its input before it ends a record, and at the end accepts
// what it would reject before another line; some types even take their missing fields from
// the next line. So each piece is followed by the first line of the next, the record that
// starts there is left to the next piece, and a piece whose last record ran into that line,
// or failed there, is uncertain: the file is then parsed whole from that piece on. The
// records of the pieces are handed on in file order, and positions (file:line) and errors
// are the file's, as if it had been parsed whole.

// Bounds of the size of a piece: big enough that the directives put in front of each and the
// start of a parser cost nothing, small enough that a file has pieces for every core and that
// the records a piece parsed ahead of its turn hold little memory.
const (
	minPiece      = 256 << 10
	maxPiece      = 2 << 20
	parallelBytes = 2 * minPiece // smaller files are parsed whole
)

// pieceSize is the size of the pieces of a file of size octets.
func pieceSize(size int64) int64 { return min(max(size/16, minPiece), maxPiece) }

// piece is a part of a master file, [start, end), whose first line is line of the file.
// header holds the directives in force at start, one per line; next is the line of the next
// piece (0 for the last).
type piece struct {
	start, end int64
	line, next int
	header     string
	out        chan []entry // its records, in order; closed when parsed
	err        error        // the parse's error, set before out is closed
	uncertain  bool         // where its last record ended is unknown (see parseText)
	records    int          // how many records it handed over
}

// parseParallel parses the master file in ra (size octets, named filename) like parseFile, in
// pieces of about chunk octets on up to GOMAXPROCS goroutines (at most 4: more pieces ahead
// of their turn would only hold memory), and hands the records to emit in file order.
func parseParallel(ra io.ReaderAt, size int64, origin, filename string, chunk int64, emit func(entry)) error {
	workers := min(runtime.GOMAXPROCS(0), 4)
	stop := make(chan struct{})
	order := make(chan *piece, workers-1) // pieces in file order, for the caller
	work := make(chan *piece)             // pieces to parse
	free := make(chan []entry, 64)        // batches handed on, to reuse
	var wg sync.WaitGroup
	wg.Add(1 + workers)
	go func() {
		defer wg.Done()
		defer close(work)
		defer close(order)
		cut(ra, size, chunk, func(p *piece) bool {
			select {
			case <-stop:
				return false // stopped: cut no further, even when order has room
			default:
			}
			select {
			case order <- p:
			case <-stop:
				return false
			}
			select {
			case work <- p:
				return true
			case <-stop:
				return false
			}
		})
	}()
	for range workers {
		go func() {
			defer wg.Done()
			for p := range work {
				parsePiece(ra, p, origin, filename, stop, free)
			}
		}()
	}
	var (
		err  error
		rest *piece // the piece from which the file is parsed whole
	)
	for p := range order {
		for es := range p.out {
			for _, e := range es {
				emit(e)
			}
			clear(es)
			select {
			case free <- es[:0]:
			default:
			}
		}
		if err = p.err; err != nil || p.uncertain {
			rest = p
			break
		}
	}
	close(stop)
	// Unblock the cutter if it waits to hand over a piece, then wait for everything to end,
	// so that nothing reads ra once this returns.
	for range order {
	}
	wg.Wait()
	if rest == nil || err != nil {
		return err
	}
	// The rest of the file from the uncertain piece on is parsed whole; its first records,
	// which the piece handed over already, are skipped.
	skip := rest.records
	r := io.MultiReader(strings.NewReader(rest.header), io.NewSectionReader(ra, rest.start, size-rest.start))
	err, _ = parseText(r, origin, filename, rest.line-strings.Count(rest.header, "\n"), 0, func(e entry) bool {
		if skip > 0 {
			skip--
		} else {
			emit(e)
		}
		return true
	})
	return err
}

// parsePiece parses p, handing its records over in batches on p.out.
func parsePiece(ra io.ReaderAt, p *piece, origin, filename string, stop <-chan struct{}, free chan []entry) {
	const batch = 512
	next := func() []entry {
		select {
		case es := <-free:
			return es
		default:
			return make([]entry, 0, batch)
		}
	}
	cur := next()
	send := func() bool {
		select {
		case p.out <- cur:
			cur = next()
			return true
		case <-stop:
			return false
		}
	}
	// The parser takes the end of its input for the end of the last record: it accepts there
	// a record it would find incomplete before another line. So the first line of the next
	// piece follows this one's, as in the file, and what the parser makes of it is dropped:
	// the next piece parses it.
	r := io.MultiReader(strings.NewReader(p.header), io.NewSectionReader(ra, p.start, p.end-p.start),
		&firstLine{r: io.NewSectionReader(ra, p.end, 1<<62)})
	first := p.line - strings.Count(p.header, "\n")
	err, uncertain := parseText(r, origin, filename, first, p.next, func(e entry) bool {
		cur = append(cur, e)
		p.records++
		return len(cur) < batch || send()
	})
	if len(cur) > 0 {
		send()
	}
	p.err, p.uncertain = err, uncertain
	close(p.out)
}

// firstLine reads r up to its first newline, included.
type firstLine struct {
	r    io.Reader
	done bool
}

func (f *firstLine) Read(b []byte) (int, error) {
	if f.done {
		return 0, io.EOF
	}
	n, err := f.r.Read(b)
	if i := bytes.IndexByte(b[:n], '\n'); i >= 0 {
		f.done = true
		return i + 1, nil
	}
	return n, err
}

// cut scans the file and hands its pieces to each in order, until each returns false.
func cut(ra io.ReaderAt, size, chunk int64, each func(*piece) bool) {
	s := scanner{line: 1, lineStart: true}
	cur := &piece{line: 1}
	target := chunk
	// A piece starts at a line that holds one whole record: an owner name followed by a blank
	// (a lone word on a line is taken for a type of the previous owner), no parenthesis, no
	// quote, no escaped newline. Its start is a candidate until its end shows that.
	var (
		cand  *piece
		owner bool // the candidate's owner name has ended with a blank
	)
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size && !s.stopped; {
		n, err := ra.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		for i := 0; i < n && !s.stopped; i++ {
			c := buf[i]
			if plain[c] && !s.lineStart && !s.inDirective && !s.escape && (cand == nil || owner) {
				continue // most octets change nothing
			}
			at := off + int64(i)
			if cand == nil && at >= target && s.clean() && ownerStart(c) && !s.afterDirective {
				cand, owner = &piece{start: at, line: s.line, header: s.header()}, false
			}
			escaped := s.escape
			s.step(c)
			switch {
			case cand == nil:
			case !owner && !escaped && (c == ' ' || c == '\t'):
				owner = true
			case s.depth > 0 || s.quote || !owner && (c == ';' || c == '\n'):
				cand = nil
			case c == '\n' && s.lineStart:
				cur.end, cur.next = cand.start, cand.line
				cur.out = make(chan []entry, (cur.end-cur.start)/(512*8)+2)
				if !each(cur) {
					return
				}
				cur, target, cand = cand, cand.start+chunk, nil
			case c == '\n':
				cand = nil // an escaped newline: the record goes on
			}
		}
		off += int64(n)
		if err != nil && !errors.Is(err, io.EOF) || n == 0 {
			break // the parser of the last piece meets the error too, and reports it
		}
	}
	cur.end = size
	cur.out = make(chan []entry, (cur.end-cur.start)/(512*8)+2)
	each(cur)
}

// plain marks the octets that change no state of the scanner in the middle of a line.
var plain = func() (t [256]bool) {
	for i := range t {
		t[i] = true
	}
	for _, c := range []byte("\n\\\";()") {
		t[c] = false
	}
	return t
}()

// ownerStart reports whether a line starting with c starts with an owner name: not with a
// blank (the previous owner's), a comment, a directive, a parenthesis or a quote.
func ownerStart(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ';', '$', '(', ')', '"':
		return false
	}
	return true
}

// scanner follows the master file's lexical state byte by byte, as the lineReader does: lines,
// comments, quotes, escapes, parentheses, and the directives at the start of a line.
type scanner struct {
	line                   int
	depth                  int
	quote, comment, escape bool
	lineStart              bool // the next byte starts a line (no escaped newline before it)

	directive                 []byte   // the directive line being read
	inDirective, directiveBad bool     // ... and whether it holds a quote or a parenthesis
	origins                   []string // $ORIGIN lines since the last absolute one
	ttl                       string   // the last $TTL line
	stopped                   bool     // a directive after which no piece may start
	// afterDirective: no line that starts with a name or a blank came since the last
	// directive. A piece does not start there: its parse could not tell a directive's end
	// from a record's.
	afterDirective bool
}

// clean reports whether the next byte starts a line on which a record can start afresh: with
// no parenthesis or quote open, and with a $TTL in force. Without $TTL a record without a TTL
// takes the last TTL written before it, which the scan does not follow.
func (s *scanner) clean() bool { return s.lineStart && s.depth == 0 && !s.quote && s.ttl != "" }

func (s *scanner) header() string {
	return strings.Join(s.origins, "") + s.ttl
}

func (s *scanner) step(c byte) {
	atStart := s.lineStart
	s.lineStart = false
	if atStart && (c == ' ' || c == '\t' || ownerStart(c)) {
		s.afterDirective = false
	}
	if atStart && c == '$' && s.depth == 0 && !s.quote {
		s.inDirective, s.directiveBad = true, false
		s.directive = s.directive[:0]
	}
	if s.inDirective {
		s.directive = append(s.directive, c)
	}
	switch {
	case s.escape:
		s.escape = false
		if c == '\n' {
			s.line++ // an escaped newline continues the line: no lineStart
		}
		return
	case s.comment:
	case c == '\\':
		s.escape = true
	case c == '"':
		s.quote = !s.quote
		s.directiveBad = s.directiveBad || s.inDirective
	case s.quote:
	case c == ';':
		s.comment = true
	case c == '(':
		s.depth++
		s.directiveBad = s.directiveBad || s.inDirective
	case c == ')':
		if s.depth > 0 {
			s.depth--
		}
		s.directiveBad = s.directiveBad || s.inDirective
	}
	if c == '\n' {
		s.line++
		s.comment = false
		s.lineStart = true
		if s.inDirective {
			s.inDirective = false
			s.endDirective()
		}
	}
}

// endDirective takes in the directive line just read.
func (s *scanner) endDirective() {
	fields := bytes.Fields(s.directive)
	if s.directiveBad || len(fields) < 2 {
		s.stopped = true
		return
	}
	line := string(s.directive)
	s.afterDirective = true
	switch strings.ToUpper(string(fields[0])) {
	case "$TTL":
		s.ttl = line
	case "$ORIGIN":
		arg := fields[1]
		if i := bytes.IndexByte(arg, ';'); i >= 0 {
			arg = arg[:i]
		}
		if absolute(arg) {
			s.origins = s.origins[:0]
		}
		s.origins = append(s.origins, line)
	default:
		s.stopped = true // $INCLUDE, $GENERATE: state the scan does not follow
	}
}

// absolute reports whether a name in presentation form ends with an unescaped dot.
func absolute(name []byte) bool {
	if len(name) == 0 || name[len(name)-1] != '.' {
		return false
	}
	bs := 0
	for i := len(name) - 2; i >= 0 && name[i] == '\\'; i-- {
		bs++
	}
	return bs%2 == 0
}
