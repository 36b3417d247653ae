package zones

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// trickyZone has what a piece boundary could get wrong: $ORIGIN (absolute and relative, one
// on top of another) and $TTL changes, records over several lines in parentheses, owners
// inherited by the lines after them, comments and quoted strings holding parentheses,
// semicolons and quotes, escaped characters in owners, a quoted string over two lines, CRLF
// line ends, explicit TTLs and classes.
const trickyZone = `; a comment with "a quote and ( a parenthesis
$TTL 3600
$ORIGIN example.test.
@ IN SOA ns1 hostmaster (
        2024010101 ; serial
        3600 900 1209600 300 )
  IN NS ns1
ns1 A 192.0.2.1
    AAAA 2001:db8::1
txt TXT "semi ; colon" "paren ( inside" "quote \" escaped"
multi TXT ( "line one" ; a comment ( inside
  "line two" )
after A 192.0.2.2
$ORIGIN sub
host A 192.0.2.3
other.example.test. 300 IN A 192.0.2.4
   MX 10 host
$TTL 60 ; one minute
$ORIGIN deeper
x A 192.0.2.5
y 30 A 192.0.2.6
  A 192.0.2.7
$ORIGIN example.test.
esc\.dot A 192.0.2.8
\@at A 192.0.2.9
crlf A 192.0.2.10` + "\r\n" + `crlf2 A 192.0.2.11` + "\r\n" + `withttl 7200 A 192.0.2.12
  AAAA 2001:db8::2
a.b.c A 192.0.2.13
paren ( A
  192.0.2.14 )
quoted TXT "a (" ")" ; ( ) "
(starts) A 192.0.2.15
e\065sc TXT "a quoted string
over two lines"
last A 192.0.2.16
`

// parsed is what a parse handed over: each record with its position, and the error.
func parsed(t *testing.T, run func(emit func(entry)) error) []string {
	t.Helper()
	var out []string
	err := run(func(e entry) { out = append(out, fmt.Sprintf("%s:%d %s", e.file, e.line, e.rr.String())) })
	if err != nil {
		out = append(out, "error: "+err.Error())
	}
	return out
}

// pieces counts the pieces cut makes of text.
func pieces(text string, chunk int64) int {
	n := 0
	cut(strings.NewReader(text), int64(len(text)), chunk, func(p *piece) bool { n++; return true })
	return n
}

// checkSplit parses text whole and in pieces of many sizes, and wants the same records at the
// same positions and the same error.
func checkSplit(t *testing.T, text, filename string) {
	t.Helper()
	whole := parsed(t, func(emit func(entry)) error {
		return parseFile(strings.NewReader(text), testOrigin, filename, emit)
	})
	cuts := 0
	for _, chunk := range []int64{1, 2, 3, 5, 8, 13, 21, 40, 100, 333, 1 << 20} {
		got := parsed(t, func(emit func(entry)) error {
			return parseParallel(strings.NewReader(text), int64(len(text)), testOrigin, filename, chunk, emit)
		})
		if !slices.Equal(got, whole) {
			t.Errorf("pieces of %d octets:\n got %q\nwant %q", chunk, got, whole)
		}
		cuts = max(cuts, pieces(text, chunk))
	}
	if cuts < 3 {
		t.Errorf("text cut into at most %d pieces: the test does not test cutting", cuts)
	}
}

func TestSplitSameAsWhole(t *testing.T) {
	t.Parallel()
	whole := parsed(t, func(emit func(entry)) error {
		return parseFile(strings.NewReader(trickyZone), testOrigin, "tricky.zone", emit)
	})
	if len(whole) == 0 || strings.HasPrefix(whole[len(whole)-1], "error") {
		t.Fatalf("the tricky zone does not parse whole: %q", whole)
	}
	checkSplit(t, trickyZone, "tricky.zone")
	// Every record's line, counted in the text, is where its owner or first token is.
	if !slices.ContainsFunc(whole, func(s string) bool { return strings.HasPrefix(s, "tricky.zone:31 paren.example.test.") }) {
		t.Errorf("the record over lines 31-32 is not at line 31: %q", whole)
	}
}

// TestSplitErrors puts a syntax error at each line of the tricky zone in turn: split or
// whole, the same records come before it, and the error names the same file:line:col.
func TestSplitErrors(t *testing.T) {
	t.Parallel()
	lines := strings.SplitAfter(trickyZone, "\n")
	for i := 4; i < len(lines); i += 3 {
		bad := strings.Join(lines[:i], "") + "bad A 300.1.2.3\n" + strings.Join(lines[i:], "")
		checkSplit(t, bad, "bad.zone")
	}
}

// TestSplitWithoutTTL: without $TTL a record without a TTL takes the last one written, which
// the scan does not follow: such a file is parsed whole, and the same.
func TestSplitWithoutTTL(t *testing.T) {
	t.Parallel()
	text := strings.Replace(trickyZone, "$TTL 3600\n", "", 1)
	text = strings.Replace(text, "$TTL 60 ; one minute\n", "", 1)
	text = strings.Replace(text, "@ IN SOA", "@ 3600 IN SOA", 1)
	for i := range 40 {
		text += fmt.Sprintf("n%d 5 A 192.0.2.1\nm%d A 192.0.2.2\n", i, i)
	}
	for _, chunk := range []int64{1, 10, 100} {
		if n := pieces(text, chunk); n != 1 {
			t.Errorf("pieces of %d octets: %d pieces, want 1", chunk, n)
		}
	}
	whole := parsed(t, func(emit func(entry)) error {
		return parseFile(strings.NewReader(text), testOrigin, "nottl.zone", emit)
	})
	got := parsed(t, func(emit func(entry)) error {
		return parseParallel(strings.NewReader(text), int64(len(text)), testOrigin, "nottl.zone", 10, emit)
	})
	if !slices.Equal(got, whole) {
		t.Errorf("got %q\nwant %q", got, whole)
	}
}

// TestSplitInclude: pieces stop at an $INCLUDE; the records before it, the included ones and
// those after it come in file order with their own files and lines, as parsed whole.
func TestSplitInclude(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	inc := "$ORIGIN inc.example.test.\nin1 A 192.0.2.100\nin2 TXT \"included\"\n"
	if err := os.WriteFile(filepath.Join(dir, "inc.zone"), []byte(inc), 0o600); err != nil {
		t.Fatal(err)
	}
	text := trickyZone + "$INCLUDE inc.zone\nafterinc A 192.0.2.101\n"
	for i := range 20 {
		text += fmt.Sprintf("tail%d A 192.0.2.1\n", i)
	}
	name := filepath.Join(dir, "main.zone")
	checkSplit(t, text, name)
	got := parsed(t, func(emit func(entry)) error {
		return parseParallel(strings.NewReader(text), int64(len(text)), testOrigin, name, 5, emit)
	})
	want := filepath.Join(dir, "inc.zone") + ":2 in1.inc.example.test."
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, want) }) {
		t.Errorf("no record %q in %q", want, got)
	}
	// The $ORIGIN of the included file ends with it (RFC 1035 §5.1).
	if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, " afterinc.example.test.") }) {
		t.Errorf("afterinc not under example.test.: %q", got)
	}
}

// TestLoadSplitSameZone loads a file big enough to be parsed in pieces, and the same text
// through Parse (whole): the zones hold the same records, and a syntax error near the end of
// the file names the same line.
func TestLoadSplitSameZone(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("$TTL 300\n@ SOA ns1 h 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n")
	for i := 0; b.Len() < 3*parallelBytes; i++ {
		fmt.Fprintf(&b, "h%d A 192.0.2.%d\n  AAAA 2001:db8::%x\n", i, i%256, i)
		if i%1000 == 0 {
			fmt.Fprintf(&b, "$ORIGIN s%d.example.test.\nx TXT \"in s%d\"\n$ORIGIN example.test.\n", i, i)
		}
	}
	text := b.String()
	if n := pieces(text, pieceSize(int64(len(text)))); n < 4 {
		t.Fatalf("%d octets make %d pieces, want at least 4", len(text), n)
	}
	path := filepath.Join(t.TempDir(), "big.zone")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(testOrigin, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := Parse(strings.NewReader(text), testOrigin, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := walked(loaded), walked(whole); !slices.Equal(got, want) {
		t.Errorf("Load and Parse differ: %d and %d RRsets", len(got), len(want))
	}
	lines := strings.Count(text, "\n")
	if err := os.WriteFile(path, []byte(text+"bad A 1.2.3\nok A 192.0.2.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(testOrigin, path, Options{})
	if want := fmt.Sprintf("%s:%d:", path, lines+1); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v, want one at %s", err, want)
	}
}

// walked lists a zone's RRsets as Walk gives them.
func walked(z *Zone) []string {
	var out []string
	z.Walk(func(set []dns.RR, auth bool) {
		for _, rr := range set {
			out = append(out, fmt.Sprintf("%v %s", auth, rr))
		}
	})
	return out
}

// FuzzSplit parses arbitrary text whole and in small pieces: the records, their positions and
// the error must be the same.
func FuzzSplit(f *testing.F) {
	f.Add(trickyZone, uint8(7))
	f.Add("$TTL 1\na A 192.0.2.1\n\"b\" TXT \"x\ny\"\nc\\\n A 192.0.2.2\n$ORIGIN x\nd A 192.0.2.3\n", uint8(1))
	f.Add("$TTL 1\n$ORIGIN a\\.\nb ( A\n192.0.2.1 )\n;(\nc A 192.0.2.2\n", uint8(2))
	f.Fuzz(func(t *testing.T, text string, chunk uint8) {
		if up := strings.ToUpper(text); strings.Contains(up, "$INCLUDE") || strings.Contains(up, "$GENERATE") {
			t.Skip() // the parser's, and $INCLUDE could open anything
		}
		whole := parsed(t, func(emit func(entry)) error {
			return parseFile(strings.NewReader(text), testOrigin, "fuzz.zone", emit)
		})
		got := parsed(t, func(emit func(entry)) error {
			return parseParallel(strings.NewReader(text), int64(len(text)), testOrigin, "fuzz.zone", int64(chunk)+1, emit)
		})
		if !slices.Equal(got, whole) {
			t.Fatalf("pieces of %d octets:\n got %q\nwant %q", int(chunk)+1, got, whole)
		}
	})
}
