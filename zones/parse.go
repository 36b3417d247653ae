package zones

import (
	"bufio"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
)

// entry is one parsed record and where it came from.
type entry struct {
	rr   dns.RR
	file string
	line int
}

// parseFile reads a whole master file and hands each record to emit. It stops at the first syntax error: the
// ZoneParser cannot resynchronise after one.
//
// dns.ZoneParser does not say on which line a record was. It does read its input through
// io.ByteReader when the reader implements it, byte by byte and never ahead of the newline that
// ends a record, so a lineReader in front of it sees exactly the bytes of each record and notes
// the line on which each entry starts (outside parentheses, comments and quotes). $INCLUDEd files
// are opened through includeFS, which wraps them the same way; the reader on top of the stack is
// the file the last record came from.
func parseFile(r io.Reader, origin, filename string, emit func(entry)) error {
	err, _ := parseText(r, origin, filename, 1, 0, func(e entry) bool { emit(e); return true })
	return err
}

// fileNames are the names under which the parser and the operator know a master file.
type fileNames struct {
	display string // for the operator: as given, "-" for none
	abs     string // for the parser: absolute, so that $INCLUDE paths resolve against its directory
}

func namesOf(filename string) fileNames {
	display := filename
	if display == "" {
		display = "-"
	}
	// $INCLUDE paths are resolved against the directory of the including file. The ZoneParser
	// joins them with the file name it was given; an absolute name makes that independent of how
	// includeFS is rooted.
	base := filename
	if base == "" {
		base = "stdin"
	}
	abs, err := filepath.Abs(base)
	if err != nil {
		abs = base
	}
	return fileNames{display: display, abs: filepath.ToSlash(abs)}
}

// operator maps a file name the parser knows to the name the operator gave.
func (n fileNames) operator(f string) string {
	if f == n.abs {
		return n.display
	}
	if !strings.HasPrefix(f, "/") {
		return "/" + f // includeFS names: cleaned absolute paths without the leading slash
	}
	return f
}

// parseText is parseFile for text whose first line is line first of the file filename (a
// piece of it, see parseParallel), possibly a line before the file's first: positions in
// records and errors are the file's. emit returns false to stop the parse.
//
// A limit above 0 is the first line of the next piece, which the text also holds: the parse
// stops at the first record that starts there. uncertain reports that it could not tell where
// the last record ended: the parser read into the limit's line before it returned a record,
// met an error there or ended before a record started there (the parser takes tokens of the
// next line for missing fields of some types). The records before it are right.
func parseText(r io.Reader, origin, filename string, first, limit int, emit func(entry) bool) (err error, uncertain bool) {
	names := namesOf(filename)
	var stack []*lineReader
	top := newLineReader(r, names.display, nil, &stack)
	top.line = first
	stack = append(stack, top)

	zp := dns.NewZoneParser(top, origin, names.abs)
	zp.SetIncludeAllowed(true)
	zp.SetIncludeFS(includeFS{stack: &stack})
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		cur := stack[len(stack)-1]
		if limit > 0 && cur == top {
			switch {
			case top.firstVis >= limit:
				return nil, false // the record of the limit's line: the next piece's
			case top.lastVis >= limit:
				return nil, true // a record that went on into the limit's line
			}
		}
		top.firstVis = 0
		if !emit(entry{rr: rr, file: cur.name, line: cur.start}) {
			return nil, false
		}
	}
	if err := zp.Err(); err != nil {
		pe := fromDNSError(err, names.display, names.operator)
		if pe.File == names.display && pe.Line > 0 {
			pe.Line += first - 1 // the parser counts from 1
		}
		if limit > 0 && (pe.Line >= limit || pe.Line == 0) {
			return nil, true
		}
		return pe, false
	}
	// With a limit, the text ended before a record started on the limit's line: the last
	// record may have taken that line in (the parser ends a record quietly at the end of its
	// input).
	return nil, limit > 0
}

// includeFS opens $INCLUDEd files from the root of the file system (the ZoneParser hands it
// cleaned absolute paths without their leading slash) and tracks their lines.
type includeFS struct {
	stack *[]*lineReader
}

// Open implements fs.FS.
func (f includeFS) Open(name string) (fs.File, error) {
	file, err := os.Open("/" + name)
	if err != nil {
		return nil, err
	}
	lr := newLineReader(file, "/"+name, file, f.stack)
	*f.stack = append(*f.stack, lr)
	return lr, nil
}

// lineReader counts lines for the ZoneParser and remembers where the current entry began.
type lineReader struct {
	br    *bufio.Reader
	file  *os.File // nil for the top-level reader
	name  string
	stack *[]*lineReader

	line    int  // line of the last byte read, from 1
	nl      bool // the last byte was a newline
	depth   int  // parenthesis depth
	quote   bool
	comment bool
	escape  bool
	content bool // the current line has shown something other than blanks and comments
	start   int  // line on which the last entry started

	// The lines of the first visible byte read since firstVis was last set to 0, and of the
	// last one: where a record began and ended (see parseText).
	firstVis, lastVis int
}

func newLineReader(r io.Reader, name string, file *os.File, stack *[]*lineReader) *lineReader {
	// A buffer no bigger than the text: a server with thousands of small zones reads them all
	// at start.
	size := 64 << 10
	if n := sizeOf(r); n > 0 && n < int64(size) {
		size = max(int(n)+1, 512)
	}
	return &lineReader{br: bufio.NewReaderSize(r, size), file: file, name: name, stack: stack, line: 1}
}

// ReadByte implements io.ByteReader: the ZoneParser's lexer reads through it.
func (l *lineReader) ReadByte() (byte, error) {
	c, err := l.br.ReadByte()
	if err != nil {
		return c, err
	}
	if l.nl {
		l.line++
		l.nl, l.content = false, false
	}
	switch {
	case l.escape:
		l.escape = false
	case l.comment:
		// up to the newline below
	case c == '\\':
		l.escape = true
		l.mark()
	case c == '"':
		l.mark()
		l.quote = !l.quote
	case l.quote:
		l.mark()
	case c == ';':
		l.comment = true
	case c == '(':
		l.mark()
		l.depth++
	case c == ')':
		if l.depth > 0 {
			l.depth--
		}
	case c == ' ' || c == '\t' || c == '\r' || c == '\n':
	default:
		l.mark()
	}
	if c == '\n' {
		l.nl, l.comment = true, false
	}
	return c, nil
}

// mark notes a visible byte: the first one on a line outside parentheses starts an entry.
func (l *lineReader) mark() {
	l.lastVis = l.line
	if l.firstVis == 0 {
		l.firstVis = l.line
	}
	if !l.content {
		l.content = true
		if l.depth == 0 {
			l.start = l.line
		}
	}
}

// Read implements io.Reader (fs.File); the lexer uses ReadByte.
func (l *lineReader) Read(p []byte) (int, error) { return l.br.Read(p) }

// Stat implements fs.File.
func (l *lineReader) Stat() (fs.FileInfo, error) {
	if l.file == nil {
		return nil, fs.ErrInvalid
	}
	return l.file.Stat()
}

// Close implements fs.File. The ZoneParser closes an included file when it has read it all,
// which is when records stop coming from it.
func (l *lineReader) Close() error {
	s := *l.stack
	if n := len(s); n > 0 && s[n-1] == l {
		*l.stack = s[:n-1]
	}
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}
