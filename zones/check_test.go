package zones

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

const checkBase = `$TTL 3600
@	SOA	ns1 hostmaster (
		1 7200 3600
		1209600 300 )
@	NS	ns1
ns1	A	192.0.2.1
`

// want is one expected problem: its line, severity and a piece of its message.
type want struct {
	line     int
	severity string
	msg      string
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		wants []want
	}{
		{"clean", checkBase, nil},
		{"no SOA", "$TTL 3600\n@ NS ns1\nns1 A 192.0.2.1\n", []want{{0, "error", "no SOA"}}},
		{"two SOAs", checkBase + "@ SOA ns1 h 2 2 3 4 5\n", []want{{7, "error", "more than one SOA"}}},
		{"no NS at the apex", "$TTL 3600\n@ SOA ns1 h 1 2 3 4 5\n", []want{{2, "error", "no NS records at the zone apex"}}},
		{"CNAME and other data", checkBase + "; a comment\n\nx A 192.0.2.2\nx CNAME ns1\n",
			[]want{{10, "error", "CNAME and other data"}}},
		{"out of zone", checkBase + "www.example.net. A 192.0.2.2\n", []want{{7, "error", "out of zone"}}},
		{"missing glue", checkBase + "sub NS ns.sub\nsub NS ns2.sub\nns2.sub A 192.0.2.3\n",
			[]want{{7, "error", "ns.sub.example.test. of sub.example.test. is at or below the zone cut"}}},
		{"glue at the cut itself", checkBase + "sub NS sub\n", []want{{7, "error", "no glue"}}},
		{"NS target does not exist", checkBase + "@ NS ns2\n", []want{{5, "warning", "ns2.example.test. of example.test. does not exist"}}},
		{"NS target without address", checkBase + "@ NS ns2\nns2 TXT \"x\"\n", []want{{5, "warning", "has no A or AAAA"}}},
		{"NS target is an empty non-terminal", checkBase + "@ NS b\na.b A 192.0.2.9\n", []want{{5, "warning", "does not exist"}}},
		{"TTL over a week", checkBase + "x 604801 A 192.0.2.2\nok 604800 A 192.0.2.3\n",
			[]want{{7, "warning", "will be capped to 604800 when signed"}}},
		{"mixed TTLs", checkBase + "x 60 A 192.0.2.2\nx 120 A 192.0.2.3\n", []want{{7, "warning", "different TTLs"}}},
		{"duplicate record", checkBase + "x A 192.0.2.2\nx 60 A 192.0.2.2\n", []want{{8, "warning", "duplicate"}}},
		{"data below a cut", checkBase + "sub NS ns1\nmx.sub MX 10 ns1\n", []want{{8, "warning", "below the zone cut"}}},
		{"data below a DNAME", checkBase + "old DNAME new\nwww.old A 192.0.2.7\n", []want{{8, "warning", "below the DNAME at old.example.test. and is never served"}}},
		{"two DNAMEs", checkBase + "old DNAME new\nold DNAME other\n", []want{{7, "error", "more than one DNAME"}}},
		{"DNAME and CNAME", checkBase + "old DNAME new\nold CNAME other\n", []want{{8, "error", "CNAME and other data"}}},
		{"syntax error", checkBase + "x A 192.0.2.2\ny A 192.0.2\n", []want{{8, "error", "bad A"}}},
		{"syntax error keeps earlier record problems", checkBase + "x CNAME a\nx A 192.0.2.1\ny BOGUS 1\n",
			[]want{{7, "error", "CNAME and other data"}, {9, "error", "not a TTL"}}},
		{"syntax error hides whole-zone problems", "$TTL 3600\n@ NS ns1\nx A 1\n", []want{{3, "error", "bad A"}}},
		{"several", checkBase + "x 60 A 192.0.2.2\nx 120 A 192.0.2.3\nwww.example.net. A 192.0.2.4\n@ NS nowhere\n",
			[]want{{5, "warning", "nowhere.example.test. of example.test. does not exist"},
				{7, "warning", "different TTLs"}, {9, "error", "out of zone"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(strings.NewReader(tc.text), testOrigin, "c.zone")
			if len(got) != len(tc.wants) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.wants), problems(got))
			}
			for i, w := range tc.wants {
				p := got[i]
				if p.File != "c.zone" || p.Line != w.line || p.Severity != w.severity || !strings.Contains(p.Msg, w.msg) {
					t.Errorf("problem %d = %v, want c.zone:%d %s containing %q", i, p, w.line, w.severity, w.msg)
				}
			}
		})
	}
}

func problems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintln(&b, " ", p)
	}
	return b.String()
}

func TestProblemString(t *testing.T) {
	for _, tc := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.zone", Line: 3, Severity: "error", Msg: "boom"}, "a.zone:3: error: boom"},
		{Problem{File: "a.zone", Severity: "warning", Msg: "no SOA"}, "a.zone: warning: no SOA"},
	} {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func TestCheckFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.zone")
	got := CheckFile(testOrigin, path)
	if len(got) != 1 || got[0].Severity != "error" || got[0].File != path {
		t.Errorf("got %v, want one error naming %s", got, path)
	}
}

// Load refuses exactly the fatal problems: a zone with only warnings and non-fatal errors (a
// missing glue record) still loads.
func TestLoadAcceptsNonFatal(t *testing.T) {
	text := checkBase + "sub NS ns.sub\nx 60 A 192.0.2.2\nx 120 A 192.0.2.3\n"
	if n := len(Check(strings.NewReader(text), testOrigin, "c.zone")); n != 2 {
		t.Fatalf("Check found %d problems, want 2", n)
	}
	if _, err := Parse(strings.NewReader(text), testOrigin, "c.zone", Options{}); err != nil {
		t.Errorf("Parse: %v", err)
	}
}
