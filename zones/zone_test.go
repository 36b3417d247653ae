package zones

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestParseSyntaxError(t *testing.T) {
	const text = `$TTL 3600
@ SOA ns1 h 1 2 3 4 300
@ NS ns1
ns1 A 192.0.2.300
`
	_, err := Parse(strings.NewReader(text), testOrigin, "zones/bad.zone", Options{})
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T), want *ParseError", err, err)
	}
	if pe.File != "zones/bad.zone" || pe.Line != 4 {
		t.Errorf("position = %s:%d, want zones/bad.zone:4", pe.File, pe.Line)
	}
	if !strings.HasPrefix(err.Error(), "zones/bad.zone:4:") || !strings.Contains(err.Error(), "bad A") {
		t.Errorf("message %q does not start with the file and line or lacks the cause", err)
	}
	var de *dns.ParseError
	if !errors.As(err, &de) {
		t.Errorf("the *dns.ParseError is not wrapped")
	}
}

func TestLoadSemanticErrors(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		msg        string
	}{
		{"no SOA", "$TTL 3600\n@ NS ns1\nns1 A 192.0.2.1\n", 0, "no SOA"},
		{"two SOAs", "$TTL 3600\n@ SOA ns1 h 1 2 3 4 300\n@ NS ns1\n@ SOA ns1 h 2 2 3 4 300\n", 4, "more than one SOA"},
		{"SOA below the apex", "$TTL 3600\n@ SOA ns1 h 1 2 3 4 300\nx SOA ns1 h 1 2 3 4 300\n", 3, "not at the zone apex"},
		{"out of zone", "$TTL 3600\n@ SOA ns1 h 1 2 3 4 300\n@ NS ns1\nwww.example.net. A 192.0.2.1\n", 4, "out of zone"},
		{"CNAME and other data", "$TTL 3600\n@ SOA ns1 h 1 2 3 4 300\nx A 192.0.2.1\nx CNAME www\n", 4, "CNAME and other data"},
		{"two CNAMEs", "$TTL 3600\n@ SOA ns1 h 1 2 3 4 300\nx CNAME a\nx CNAME b\n", 3, "more than one CNAME"},
		{"class CH", "$TTL 3600\n@ SOA ns1 h 1 2 3 4 300\nx CH TXT \"a\"\n", 3, "class CH"},
		{"no data", "$TTL 3600\n@ SOA ns1 h 1 2 3 4 300\n@ NS ns1\nx A ", 4, "has no data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z, err := Parse(strings.NewReader(tc.text), testOrigin, "t.zone", Options{})
			if err == nil {
				t.Fatalf("Parse succeeded (%d names), want an error", z.Names())
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.File != "t.zone" || pe.Line != tc.line || !strings.Contains(pe.Msg, tc.msg) {
				t.Errorf("got %s:%d %q, want t.zone:%d containing %q", pe.File, pe.Line, pe.Msg, tc.line, tc.msg)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.zone")
	if err := os.WriteFile(path, []byte("$TTL 3600\n@ SOA ns1 h 1 2 3 4 300\n\nfoo AAAA 192.0.2.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load("example.test.", path, Options{})
	if err == nil || !strings.Contains(err.Error(), path+":4:") {
		t.Fatalf("err = %v, want it to name %s:4", err, path)
	}
	if _, err := Load("example.test.", filepath.Join(t.TempDir(), "missing.zone"), Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestInclude(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	main := write("main.zone", `$TTL 3600
@ SOA ns1 h 1 2 3 4 300
@ NS ns1
$INCLUDE inc/hosts.zone
after A 192.0.2.9
`)
	write("inc/hosts.zone", `; hosts
ns1 A 192.0.2.1
$INCLUDE more.zone sub.example.test.
www A 192.0.2.2
`)
	write("inc/more.zone", "deep A 192.0.2.3\n")

	z, err := Load(testOrigin, main, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"ns1.example.test.":      "192.0.2.1",
		"www.example.test.":      "192.0.2.2",
		"deep.sub.example.test.": "192.0.2.3",
		"after.example.test.":    "192.0.2.9",
	} {
		r := z.Lookup(name, dns.TypeA)
		if r.Kind != Answer || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != want {
			t.Errorf("%s A: %v %v, want %s", name, r.Kind, r.Answer, want)
		}
	}

	// Problems in included files name the included file and its own lines; the record after
	// the $INCLUDE is back in the main file.
	write("inc/more.zone", "deep A 192.0.2.3\n\n\nwww.example.net. A 192.0.2.4\n")
	write("inc/hosts.zone", "; hosts\nns1 A 192.0.2.1\n$INCLUDE more.zone sub.example.test.\nwww A 192.0.2.2\nx TXT \"a\"\nx CNAME www\n")
	got := CheckFile(testOrigin, main)
	want := []Problem{
		{File: filepath.Join(dir, "inc/hosts.zone"), Line: 6, Severity: "error"},
		{File: filepath.Join(dir, "inc/more.zone"), Line: 4, Severity: "error"},
	}
	if len(got) != len(want) {
		t.Fatalf("problems %v, want %d", got, len(want))
	}
	for i := range want {
		if got[i].File != want[i].File || got[i].Line != want[i].Line || got[i].Severity != want[i].Severity {
			t.Errorf("problem %d = %v, want %s:%d %s", i, got[i], want[i].File, want[i].Line, want[i].Severity)
		}
	}

	// A syntax error inside an included file names that file and line.
	write("inc/more.zone", "deep A 192.0.2.3\nbad A nonsense\n")
	_, err = Load(testOrigin, main, Options{})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != filepath.Join(dir, "inc/more.zone") || pe.Line != 2 {
		t.Errorf("err = %v, want a *ParseError at %s:2", err, filepath.Join(dir, "inc/more.zone"))
	}
}

func TestDropsDNSSEC(t *testing.T) {
	const text = `$TTL 3600
@ SOA ns1 h 1 2 3 4 300
@ NS ns1
@ DNSKEY 257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
@ CDS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
@ NSEC3PARAM 1 0 0 -
@ RRSIG SOA 13 2 3600 20300101000000 20200101000000 12345 example.test. AAAA
ns1 A 192.0.2.1
ns1 NSEC www A RRSIG NSEC
www A 192.0.2.2
sub NS ns1.sub
sub DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns1.sub A 192.0.2.3
key DNSKEY 256 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==
`
	z := mustParse(t, text, Options{})
	if z.Dropped() != 5 {
		t.Errorf("Dropped = %d, want 5 (DNSKEY, CDS, NSEC3PARAM and RRSIG at the apex, NSEC)", z.Dropped())
	}
	if r := z.Lookup(testOrigin, dns.TypeDNSKEY); r.Kind != NoData || slices.Contains(r.Types, dns.TypeDNSKEY) {
		t.Errorf("apex DNSKEY: %v types %v, want NoData without DNSKEY", r.Kind, r.Types)
	}
	if r := z.Lookup("ns1.example.test.", dns.TypeA); !slices.Equal(r.Types, nil) || r.Kind != Answer {
		t.Errorf("ns1 A: %v", r)
	}
	if r := z.Lookup("sub.example.test.", dns.TypeDS); r.Kind != Answer {
		t.Errorf("DS at a cut was dropped: %v", r.Kind)
	}
	if r := z.Lookup("key.example.test.", dns.TypeDNSKEY); r.Kind != Answer {
		t.Errorf("a DNSKEY below the apex is ordinary data, got %v", r.Kind)
	}
}

func TestAccessors(t *testing.T) {
	z := mustParse(t, lookupZone, Options{})
	if z.Origin() != "example.test." || z.Serial() != 1 || z.SOA().Ns != "ns1.example.test." {
		t.Errorf("Origin %q Serial %d SOA %v", z.Origin(), z.Serial(), z.SOA())
	}
	// Count the distinct owners written in lookupZone.
	owners := map[string]bool{}
	zp := dns.NewZoneParser(strings.NewReader(lookupZone), testOrigin, "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		owners[strings.ToLower(rr.Header().Name)] = true
	}
	if z.Names() != len(owners) {
		t.Errorf("Names = %d, want %d", z.Names(), len(owners))
	}
	// Origin is canonicalised.
	z2, err := Parse(strings.NewReader("$TTL 1\n@ SOA a b 1 2 3 4 5\n"), "Example.TEST", "", Options{})
	if err != nil || z2.Origin() != "example.test." {
		t.Errorf("origin %v, %v", z2, err)
	}
}

func TestNeighbours(t *testing.T) {
	z := mustParse(t, lookupZone, Options{})
	// The served names in canonical order ('_' sorts before letters, digits before letters):
	// example.test. _sip._tcp alias alias2 c0..c9 *.cname a.b.ent ext ins loop1 loop2 mail
	// mxbelow ns1 sip sub todeleg tonx towild *.wild a.ent.wild exists.wild www
	tests := []struct {
		name, prev, next string
	}{
		{"example.test.", "www.example.test.", "_sip._tcp.example.test."},
		{"www.example.test.", "exists.wild.example.test.", "example.test."},
		{"zzz.example.test.", "www.example.test.", "example.test."},
		{"alias.example.test.", "_sip._tcp.example.test.", "alias2.example.test."},
		{"aliasz.example.test.", "alias2.example.test.", "c0.example.test."},
		// Empty non-terminals are not names here: b.ent sits between its neighbours.
		{"b.ent.example.test.", "*.cname.example.test.", "a.b.ent.example.test."},
		// The cut is a name, its glue is not.
		{"ns1.sub.example.test.", "sub.example.test.", "todeleg.example.test."},
		{"sub.example.test.", "sip.example.test.", "todeleg.example.test."},
		{"b.wild.example.test.", "*.wild.example.test.", "a.ent.wild.example.test."},
		{"x.wild.example.test.", "exists.wild.example.test.", "www.example.test."},
	}
	for _, tc := range tests {
		prev, next := z.Neighbours(tc.name)
		if prev != tc.prev || next != tc.next {
			t.Errorf("Neighbours(%s) = %s, %s; want %s, %s", tc.name, prev, next, tc.prev, tc.next)
		}
	}
	one := mustParse(t, "$TTL 1\n@ SOA a b 1 2 3 4 5\n", Options{})
	if p, n := one.Neighbours("x.example.test."); p != "example.test." || n != "example.test." {
		t.Errorf("single-name zone: %s %s", p, n)
	}
}

// The shared test zones load cleanly and show the cases they promise.
func TestTestdataZones(t *testing.T) {
	for _, origin := range []string{"example.test.", "signed.example.test.", "unsigned.example.test."} {
		path := filepath.Join("..", "testdata", strings.TrimSuffix(origin, ".")+".zone")
		if p := CheckFile(origin, path); len(p) > 0 {
			t.Errorf("%s: %v", path, p)
		}
		if _, err := Load(origin, path, Options{MaxTTL: 604800}); err != nil {
			t.Error(err)
		}
	}
	z, err := Load("example.test.", filepath.Join("..", "testdata", "example.test.zone"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		qname string
		qtype uint16
		kind  Kind
	}{
		{"alias.example.test.", dns.TypeA, Answer},
		{"external.example.test.", dns.TypeA, Answer},
		{"foo.wild.example.test.", dns.TypeTXT, Answer},
		{"b.ent.example.test.", dns.TypeA, NoData},
		{"www.signed.example.test.", dns.TypeA, Referral},
		{"www.unsigned.example.test.", dns.TypeA, Referral},
		{"signed.example.test.", dns.TypeDS, Answer},
		{"unsigned.example.test.", dns.TypeDS, NoData},
		{"nope.example.test.", dns.TypeA, NXDomain},
	}
	for _, c := range cases {
		if r := z.Lookup(c.qname, c.qtype); r.Kind != c.kind {
			t.Errorf("%s %s: %v, want %v", c.qname, dns.Type(c.qtype), r.Kind, c.kind)
		}
	}
	big := z.Lookup("big.example.test.", dns.TypeTXT)
	m := new(dns.Msg)
	m.SetQuestion("big.example.test.", dns.TypeTXT)
	m.Answer = big.Answer
	if len(big.Answer) != 40 || m.Len() <= 1232 {
		t.Errorf("big TXT: %d records, %d octets; want 40 records over 1232 octets", len(big.Answer), m.Len())
	}
	if r := z.Lookup("signed.example.test.", dns.TypeA); len(r.DS) != 1 || len(r.Extra) != 3 {
		t.Errorf("signed referral: DS %v glue %v", r.DS, r.Extra)
	}
	if r := z.Lookup("unsigned.example.test.", dns.TypeA); len(r.DS) != 0 || len(r.Extra) != 0 {
		t.Errorf("unsigned referral: DS %v glue %v", r.DS, r.Extra)
	}
}
