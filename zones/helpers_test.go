package zones

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const testOrigin = "example.test."

// mustRRs parses records written as zone-file lines relative to example.test. with a default
// TTL of 3600, and returns their presentation forms sorted.
func mustRRs(t testing.TB, lines ...string) []string {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(strings.Join(lines, "\n")), testOrigin, "")
	zp.SetDefaultTTL(3600)
	var out []string
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		out = append(out, rr.String())
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("bad test records %q: %v", lines, err)
	}
	slices.Sort(out)
	return out
}

// section returns the presentation forms of a section, sorted, so sections compare as sets.
func section(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

// checkSection compares a section RR by RR and reports the differences readably.
func checkSection(t *testing.T, name string, got []dns.RR, want []string) {
	t.Helper()
	g := section(got)
	if !slices.Equal(g, want) {
		t.Errorf("%s section:\n got:\n  %s\nwant:\n  %s", name, strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
	if cap(got) != len(got) {
		t.Errorf("%s section: cap %d > len %d: an append by the caller would write into the snapshot", name, cap(got), len(got))
	}
}

func mustParse(t testing.TB, text string, opt Options) *Zone {
	t.Helper()
	z, err := Parse(strings.NewReader(text), testOrigin, "test.zone", opt)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return z
}

// chainNames returns the names of z's NSEC chain, in canonical order.
func chainNames(z *Zone) []string {
	out := make([]string, len(z.chain))
	for i := range z.chain {
		out[i] = z.chainName(i)
	}
	return out
}

// nodeNames returns the names of every node of z (owners and empty non-terminals).
func nodeNames(z *Zone) []string {
	out := make([]string, len(z.nodes))
	for i := range z.nodes {
		out[i] = z.nameOf(&z.nodes[i])
	}
	return out
}
