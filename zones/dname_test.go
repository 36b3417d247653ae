package zones

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// dnameZone redirects old.example.test. to new.example.test. (RFC 6672), with data under the
// owner that the DNAME hides, a DNAME out of the zone, a DNAME loop and SVCB/HTTPS records.
const dnameZone = `$ORIGIN example.test.
$TTL 3600
@		SOA	ns1 hostmaster 1 7200 3600 1209600 300
@		NS	ns1
ns1		A	192.0.2.53
old	600	DNAME	new
old		TXT	"the owner keeps its own data"
hidden.old	A	192.0.2.66
www.new		A	192.0.2.7
www.new		AAAA	2001:db8::7
ext		DNAME	example.net.
l1		DNAME	l2
l2		DNAME	l1
deleg		NS	ns.elsewhere.net.
todeleg		DNAME	deleg
long		DNAME	` + longTarget + `
svc		HTTPS	1 . alpn=h2
svc		A	192.0.2.30
alias		HTTPS	0 svc
gone		HTTPS	0 .
_8443._foo	SVCB	1 www.new port=8443
`

// longTarget is a DNAME target of 192 octets: a name of two more 64-octet labels below
// long.example.test. grows past 255 octets when substituted.
const longTarget = "a23456789012345678901234567890123456789012345678901234567890123." +
	"b23456789012345678901234567890123456789012345678901234567890123." +
	"c23456789012345678901234567890123456789012345678901234567890123."

func TestDNAME(t *testing.T) {
	z := mustParse(t, dnameZone, Options{})
	dname := "old 600 DNAME new"
	long := "x23456789012345678901234567890123456789012345678901234567890123."
	tests := []struct {
		name, qname string
		qtype       uint16
		kind        Kind
		answer, ns  []string
		extra       []string
		rname       string
		yx          bool
	}{
		{name: "redirected to data", qname: "www.old.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{dname, "www.old 600 CNAME www.new", "www.new 3600 A 192.0.2.7"}, rname: "www.new.example.test."},
		{name: "redirected to a missing name", qname: "nx.old.example.test.", qtype: dns.TypeA, kind: NXDomain,
			answer: []string{dname, "nx.old 600 CNAME nx.new"}, ns: []string{soaNeg}, rname: "nx.new.example.test."},
		{name: "redirected to nodata", qname: "www.old.example.test.", qtype: dns.TypeTXT, kind: NoData,
			answer: []string{dname, "www.old 600 CNAME www.new"}, ns: []string{soaNeg}, rname: "www.new.example.test."},
		{name: "data below the owner is hidden", qname: "hidden.old.example.test.", qtype: dns.TypeA, kind: NXDomain,
			answer: []string{dname, "hidden.old 600 CNAME hidden.new"}, ns: []string{soaNeg}, rname: "hidden.new.example.test."},
		{name: "the owner itself: DNAME", qname: "old.example.test.", qtype: dns.TypeDNAME, kind: Answer,
			answer: []string{dname}},
		{name: "the owner itself: its other data", qname: "old.example.test.", qtype: dns.TypeTXT, kind: Answer,
			answer: []string{`old TXT "the owner keeps its own data"`}},
		{name: "the owner itself: nodata", qname: "old.example.test.", qtype: dns.TypeA, kind: NoData,
			ns: []string{soaNeg}},
		{name: "out of the zone", qname: "a.ext.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"ext 3600 DNAME example.net.", "a.ext 3600 CNAME a.example.net."}, rname: "a.example.net."},
		{name: "loop", qname: "a.l1.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"l1 DNAME l2", "a.l1 CNAME a.l2", "l2 DNAME l1", "a.l2 CNAME a.l1"}, rname: "a.l1.example.test."},
		{name: "into a delegation", qname: "a.todeleg.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"todeleg DNAME deleg", "a.todeleg CNAME a.deleg"}, rname: "a.deleg.example.test."},
		{name: "too long after substitution", qname: long + long + "long.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"long 3600 DNAME " + longTarget},
			rname:  long + long + "long.example.test.", yx: true},
		{name: "HTTPS ServiceMode with target . : the owner's addresses", qname: "svc.example.test.", qtype: dns.TypeHTTPS,
			kind: Answer, answer: []string{"svc HTTPS 1 . alpn=h2"}, extra: []string{"svc A 192.0.2.30"}},
		{name: "HTTPS AliasMode: the target's addresses", qname: "alias.example.test.", qtype: dns.TypeHTTPS,
			kind: Answer, answer: []string{"alias HTTPS 0 svc"}, extra: []string{"svc A 192.0.2.30"}},
		{name: "HTTPS AliasMode to .: no service, no addresses", qname: "gone.example.test.", qtype: dns.TypeHTTPS,
			kind: Answer, answer: []string{"gone HTTPS 0 ."}},
		{name: "SVCB with an in-zone target", qname: "_8443._foo.example.test.", qtype: dns.TypeSVCB, kind: Answer,
			answer: []string{"_8443._foo SVCB 1 www.new port=8443"}, extra: []string{"www.new A 192.0.2.7", "www.new AAAA 2001:db8::7"}},
	}
	for name, want := range map[string]bool{"old.example.test.": true, "deleg.example.test.": true,
		"www.new.example.test.": false, "hidden.old.example.test.": false, "example.test.": false} {
		if z.Hides(name) != want {
			t.Errorf("Hides(%s) = %v, want %v", name, !want, want)
		}
	}
	// Addresses at a DNAME owner are the zone's (signed in an additional section); those at a
	// cut or below a DNAME owner are not, nor are those of a name the zone does not hold.
	for name, want := range map[string]bool{"old.example.test.": false, "svc.example.test.": false,
		"deleg.example.test.": true, "hidden.old.example.test.": true, "nowhere.example.test.": true} {
		if z.Glue(name) != want {
			t.Errorf("Glue(%s) = %v, want %v", name, !want, want)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := z.Lookup(tc.qname, tc.qtype)
			if r.Kind != tc.kind || r.YXDomain != tc.yx {
				t.Fatalf("kind %v, YXDomain %v; want %v, %v", r.Kind, r.YXDomain, tc.kind, tc.yx)
			}
			checkSection(t, "answer", r.Answer, mustRRs(t, tc.answer...))
			checkSection(t, "authority", r.Ns, mustRRs(t, tc.ns...))
			checkSection(t, "additional", r.Extra, mustRRs(t, tc.extra...))
			want := tc.rname
			if want == "" {
				want = tc.qname
			}
			if r.Name != want {
				t.Errorf("Name %s, want %s", r.Name, want)
			}
		})
	}
}

// TestApexDNAME redirects a whole zone: every name below the apex, none at it.
func TestApexDNAME(t *testing.T) {
	z := mustParse(t, "$TTL 3600\n@ SOA ns1.example.net. h 1 2 3 4 300\n@ NS ns1.example.net.\n@ DNAME example.net.\nwww A 192.0.2.1\n", Options{})
	r := z.Lookup("www.example.test.", dns.TypeA)
	checkSection(t, "answer", r.Answer, mustRRs(t, "@ DNAME example.net.", "www CNAME www.example.net."))
	if r.Kind != Answer || r.Name != "www.example.net." {
		t.Errorf("kind %v name %s, want an answer ending at www.example.net.", r.Kind, r.Name)
	}
	if r := z.Lookup("example.test.", dns.TypeNS); r.Kind != Answer || len(r.Answer) != 1 {
		t.Errorf("apex NS: %v %v", r.Kind, r.Answer)
	}
	// The hidden name is not an existing name for denial: Neighbours skips it.
	if prev, next := z.Neighbours("a.example.test."); prev != "example.test." || next != "example.test." {
		t.Errorf("Neighbours = %s, %s; the occluded www must not appear", prev, next)
	}
	if !slices.Equal(chainNames(z), []string{"example.test."}) {
		t.Errorf("chain names %v", chainNames(z))
	}
}
