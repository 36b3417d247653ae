package zones

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// lookupZone holds one instance of every case of the lookup algorithm.
const lookupZone = `$ORIGIN example.test.
$TTL 3600
@		SOA	ns1 hostmaster 1 7200 3600 1209600 300
@		NS	ns1
@		NS	ns2.sub		; apex NS target below a cut: glue in the additional section
@		MX	10 mail
@		A	192.0.2.1
@		TXT	"apex"
ns1		A	192.0.2.53
ns1		AAAA	2001:db8::53
mail		A	192.0.2.25
WWW.Example.TEST.	A	192.0.2.80
www		AAAA	2001:db8::80
alias		CNAME	alias2
alias2		CNAME	WWW
ext		CNAME	www.example.net.
loop1		CNAME	loop2
loop2		CNAME	loop1
tonx		CNAME	nothere
towild		CNAME	x.wild
todeleg		CNAME	host.sub
c0		CNAME	c1
c1		CNAME	c2
c2		CNAME	c3
c3		CNAME	c4
c4		CNAME	c5
c5		CNAME	c6
c6		CNAME	c7
c7		CNAME	c8
c8		CNAME	c9
c9		CNAME	www
*.wild		A	192.0.2.99
*.wild		TXT	"wild"
*.wild		MX	10 mail
exists.wild	A	192.0.2.98
a.ent.wild	A	192.0.2.97
*.cname		CNAME	www
a.b.ent		A	192.0.2.100
sub		NS	ns1.sub
sub		NS	ns2.sub
sub		NS	ns.elsewhere.net.
sub		DS	12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns1.sub		A	192.0.2.150
ns2.sub		AAAA	2001:db8::151
host.sub	A	192.0.2.152
*.deep.sub	A	192.0.2.153
ins		NS	ns.example.net.
ins		NS	ns1
_sip._tcp	SRV	10 60 5060 sip
sip		A	192.0.2.60
mxbelow		MX	10 host.sub
`

const soaNeg = "@ 300 SOA ns1 hostmaster 1 7200 3600 1209600 300"

func TestLookup(t *testing.T) {
	z := mustParse(t, lookupZone, Options{})
	glueSub := []string{"ns1.sub A 192.0.2.150", "ns2.sub AAAA 2001:db8::151"}
	nsSub := []string{"sub NS ns1.sub", "sub NS ns2.sub", "sub NS ns.elsewhere.net.",
		"sub DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"}
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		kind   Kind
		answer []string
		ns     []string
		extra  []string
		rname  string // Result.Name; qname when empty
		types  []uint16
		ent    bool
		ce     string
		synth  []Synth
		cut    string
		ds     int // len(Result.DS)
	}{
		{name: "exact", qname: "www.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"www A 192.0.2.80"}},
		{name: "owner written in upper case", qname: "www.example.test.", qtype: dns.TypeAAAA, kind: Answer,
			answer: []string{"www AAAA 2001:db8::80"}},
		{name: "nodata", qname: "www.example.test.", qtype: dns.TypeTXT, kind: NoData,
			ns: []string{soaNeg}, types: []uint16{dns.TypeA, dns.TypeAAAA}},
		{name: "apex NS with glue below a cut", qname: "example.test.", qtype: dns.TypeNS, kind: Answer,
			answer: []string{"@ NS ns1", "@ NS ns2.sub"},
			extra:  []string{"ns1 A 192.0.2.53", "ns1 AAAA 2001:db8::53", "ns2.sub AAAA 2001:db8::151"}},
		{name: "apex MX with in-zone target", qname: "example.test.", qtype: dns.TypeMX, kind: Answer,
			answer: []string{"@ MX 10 mail"}, extra: []string{"mail A 192.0.2.25"}},
		{name: "MX target below a cut gets no additional", qname: "mxbelow.example.test.", qtype: dns.TypeMX,
			kind: Answer, answer: []string{"mxbelow MX 10 host.sub"}},
		{name: "SRV with in-zone target", qname: "_sip._tcp.example.test.", qtype: dns.TypeSRV, kind: Answer,
			answer: []string{"_sip._tcp SRV 10 60 5060 sip"}, extra: []string{"sip A 192.0.2.60"}},
		{name: "apex SOA", qname: "example.test.", qtype: dns.TypeSOA, kind: Answer,
			answer: []string{"@ SOA ns1 hostmaster 1 7200 3600 1209600 300"}},
		{name: "CNAME chain", qname: "alias.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"alias CNAME alias2", "alias2 CNAME WWW", "www A 192.0.2.80"},
			rname:  "www.example.test."},
		{name: "CNAME chain to nodata", qname: "alias.example.test.", qtype: dns.TypeTXT, kind: NoData,
			answer: []string{"alias CNAME alias2", "alias2 CNAME WWW"}, ns: []string{soaNeg},
			rname: "www.example.test.", types: []uint16{dns.TypeA, dns.TypeAAAA}},
		{name: "qtype CNAME is not followed", qname: "alias.example.test.", qtype: dns.TypeCNAME, kind: Answer,
			answer: []string{"alias CNAME alias2"}},
		{name: "CNAME out of zone", qname: "ext.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"ext CNAME www.example.net."}, rname: "www.example.net."},
		{name: "CNAME loop", qname: "loop1.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"loop1 CNAME loop2", "loop2 CNAME loop1"}, rname: "loop1.example.test."},
		{name: "CNAME chain bounded", qname: "c0.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"c0 CNAME c1", "c1 CNAME c2", "c2 CNAME c3", "c3 CNAME c4", "c4 CNAME c5",
				"c5 CNAME c6", "c6 CNAME c7", "c7 CNAME c8"}, rname: "c8.example.test."},
		{name: "CNAME to a missing name", qname: "tonx.example.test.", qtype: dns.TypeA, kind: NXDomain,
			answer: []string{"tonx CNAME nothere"}, ns: []string{soaNeg},
			rname: "nothere.example.test.", ce: "example.test."},
		{name: "CNAME to a wildcard", qname: "towild.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"towild CNAME x.wild", "x.wild A 192.0.2.99"}, rname: "x.wild.example.test.",
			ce: "wild.example.test.", synth: []Synth{{Name: "x.wild.example.test.", Wildcard: "*.wild.example.test."}}},
		{name: "CNAME into a delegation", qname: "todeleg.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"todeleg CNAME host.sub"}, rname: "host.sub.example.test."},
		{name: "wildcard", qname: "foo.wild.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"foo.wild A 192.0.2.99"}, ce: "wild.example.test.",
			synth: []Synth{{Name: "foo.wild.example.test.", Wildcard: "*.wild.example.test."}}},
		{name: "wildcard several labels deep", qname: "a.b.c.wild.example.test.", qtype: dns.TypeTXT, kind: Answer,
			answer: []string{`a.b.c.wild TXT "wild"`}, ce: "wild.example.test.",
			synth: []Synth{{Name: "a.b.c.wild.example.test.", Wildcard: "*.wild.example.test."}}},
		{name: "wildcard MX gets additional", qname: "foo.wild.example.test.", qtype: dns.TypeMX, kind: Answer,
			answer: []string{"foo.wild MX 10 mail"}, extra: []string{"mail A 192.0.2.25"}, ce: "wild.example.test.",
			synth: []Synth{{Name: "foo.wild.example.test.", Wildcard: "*.wild.example.test."}}},
		{name: "wildcard nodata", qname: "foo.wild.example.test.", qtype: dns.TypeAAAA, kind: NoData,
			ns: []string{soaNeg}, types: []uint16{dns.TypeA, dns.TypeMX, dns.TypeTXT}, ce: "wild.example.test.",
			synth: []Synth{{Name: "foo.wild.example.test.", Wildcard: "*.wild.example.test."}}},
		{name: "existing name blocks the wildcard", qname: "exists.wild.example.test.", qtype: dns.TypeTXT,
			kind: NoData, ns: []string{soaNeg}, types: []uint16{dns.TypeA}},
		{name: "empty non-terminal blocks the wildcard", qname: "ent.wild.example.test.", qtype: dns.TypeA,
			kind: NoData, ns: []string{soaNeg}, ent: true},
		{name: "below a blocking empty non-terminal", qname: "x.ent.wild.example.test.", qtype: dns.TypeA,
			kind: NXDomain, ns: []string{soaNeg}, ce: "ent.wild.example.test."},
		{name: "the wildcard name itself", qname: "*.wild.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"*.wild A 192.0.2.99"}},
		{name: "star only matches as the leftmost label", qname: "a.*.wild.example.test.", qtype: dns.TypeA,
			kind: NXDomain, ns: []string{soaNeg}, ce: "*.wild.example.test."},
		{name: "wildcard CNAME", qname: "foo.cname.example.test.", qtype: dns.TypeA, kind: Answer,
			answer: []string{"foo.cname CNAME www", "www A 192.0.2.80"}, rname: "www.example.test.",
			ce: "cname.example.test.", synth: []Synth{{Name: "foo.cname.example.test.", Wildcard: "*.cname.example.test."}}},
		{name: "empty non-terminal", qname: "b.ent.example.test.", qtype: dns.TypeA, kind: NoData,
			ns: []string{soaNeg}, ent: true},
		{name: "empty non-terminal two up", qname: "ent.example.test.", qtype: dns.TypeTXT, kind: NoData,
			ns: []string{soaNeg}, ent: true},
		{name: "ENT of an SRV owner", qname: "_tcp.example.test.", qtype: dns.TypeSRV, kind: NoData,
			ns: []string{soaNeg}, ent: true},
		{name: "nxdomain", qname: "nope.example.test.", qtype: dns.TypeA, kind: NXDomain,
			ns: []string{soaNeg}, ce: "example.test."},
		{name: "nxdomain below an existing name", qname: "x.y.www.example.test.", qtype: dns.TypeA, kind: NXDomain,
			ns: []string{soaNeg}, ce: "www.example.test."},
		{name: "referral at the cut", qname: "sub.example.test.", qtype: dns.TypeA, kind: Referral,
			ns: nsSub, extra: glueSub, cut: "sub.example.test.", types: []uint16{dns.TypeNS, dns.TypeDS}, ds: 1},
		{name: "referral for NS at the cut", qname: "sub.example.test.", qtype: dns.TypeNS, kind: Referral,
			ns: nsSub, extra: glueSub, cut: "sub.example.test.", types: []uint16{dns.TypeNS, dns.TypeDS}, ds: 1},
		{name: "referral below the cut", qname: "a.b.sub.example.test.", qtype: dns.TypeAAAA, kind: Referral,
			ns: nsSub, extra: glueSub, cut: "sub.example.test.", types: []uint16{dns.TypeNS, dns.TypeDS}, ds: 1},
		{name: "referral for a glue name", qname: "ns1.sub.example.test.", qtype: dns.TypeA, kind: Referral,
			ns: nsSub, extra: glueSub, cut: "sub.example.test.", types: []uint16{dns.TypeNS, dns.TypeDS}, ds: 1},
		{name: "wildcard below a cut is not applied", qname: "x.deep.sub.example.test.", qtype: dns.TypeA,
			kind: Referral, ns: nsSub, extra: glueSub, cut: "sub.example.test.",
			types: []uint16{dns.TypeNS, dns.TypeDS}, ds: 1},
		{name: "DS below the cut is the child's", qname: "host.sub.example.test.", qtype: dns.TypeDS,
			kind: Referral, ns: nsSub, extra: glueSub, cut: "sub.example.test.",
			types: []uint16{dns.TypeNS, dns.TypeDS}, ds: 1},
		{name: "DS at the cut from the parent side", qname: "sub.example.test.", qtype: dns.TypeDS, kind: Answer,
			answer: nsSub[3:]},
		{name: "DS at an insecure cut is nodata", qname: "ins.example.test.", qtype: dns.TypeDS, kind: NoData,
			ns: []string{soaNeg}, types: []uint16{dns.TypeNS}},
		{name: "insecure referral with in-zone address of NS target", qname: "ins.example.test.",
			qtype: dns.TypeA, kind: Referral, ns: []string{"ins NS ns.example.net.", "ins NS ns1"},
			extra: []string{"ns1 A 192.0.2.53", "ns1 AAAA 2001:db8::53"}, cut: "ins.example.test.",
			types: []uint16{dns.TypeNS}},
		{name: "ANY picks the lowest type", qname: "www.example.test.", qtype: dns.TypeANY, kind: Answer,
			answer: []string{"www A 192.0.2.80"}},
		{name: "ANY at the apex", qname: "example.test.", qtype: dns.TypeANY, kind: Answer,
			answer: []string{"@ A 192.0.2.1"}},
		{name: "ANY at a CNAME is the CNAME", qname: "alias.example.test.", qtype: dns.TypeANY, kind: Answer,
			answer: []string{"alias CNAME alias2"}},
		{name: "ANY at a wildcard", qname: "q.wild.example.test.", qtype: dns.TypeANY, kind: Answer,
			answer: []string{"q.wild A 192.0.2.99"}, ce: "wild.example.test.",
			synth: []Synth{{Name: "q.wild.example.test.", Wildcard: "*.wild.example.test."}}},
		{name: "ANY at an empty non-terminal", qname: "ent.example.test.", qtype: dns.TypeANY, kind: NoData,
			ns: []string{soaNeg}, ent: true},
		{name: "out of zone", qname: "www.example.net.", qtype: dns.TypeA, kind: NXDomain},
		{name: "suffix that is not a label boundary", qname: "fooexample.test.", qtype: dns.TypeA, kind: NXDomain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := z.Lookup(tc.qname, tc.qtype)
			if r.Kind != tc.kind {
				t.Errorf("Kind = %v, want %v", r.Kind, tc.kind)
			}
			checkSection(t, "answer", r.Answer, mustRRs(t, tc.answer...))
			checkSection(t, "authority", r.Ns, mustRRs(t, tc.ns...))
			checkSection(t, "additional", r.Extra, mustRRs(t, tc.extra...))
			want := tc.rname
			if want == "" {
				want = tc.qname
			}
			if r.Name != want {
				t.Errorf("Name = %q, want %q", r.Name, want)
			}
			if !slices.Equal(r.Types, tc.types) {
				t.Errorf("Types = %v, want %v", r.Types, tc.types)
			}
			if r.ENT != tc.ent {
				t.Errorf("ENT = %v, want %v", r.ENT, tc.ent)
			}
			if r.ClosestEncloser != tc.ce {
				t.Errorf("ClosestEncloser = %q, want %q", r.ClosestEncloser, tc.ce)
			}
			if !slices.Equal(r.Synth, tc.synth) {
				t.Errorf("Synth = %v, want %v", r.Synth, tc.synth)
			}
			if r.Cut != tc.cut {
				t.Errorf("Cut = %q, want %q", r.Cut, tc.cut)
			}
			if len(r.DS) != tc.ds {
				t.Errorf("len(DS) = %d, want %d", len(r.DS), tc.ds)
			}
			if tc.kind != NXDomain || len(tc.ns) > 0 {
				if r.SOA == nil || r.SOA != z.SOA() {
					t.Errorf("SOA = %v, want the zone's", r.SOA)
				}
			}
		})
	}
}

// A referral lists the NS RRset before the DS RRset: the signer signs the DS and a resolver
// reads the NS first.
func TestReferralOrder(t *testing.T) {
	z := mustParse(t, lookupZone, Options{})
	r := z.Lookup("sub.example.test.", dns.TypeA)
	if len(r.Ns) != 4 || r.Ns[3].Header().Rrtype != dns.TypeDS {
		t.Fatalf("Ns = %v, want 3 NS then the DS", r.Ns)
	}
	for _, rr := range r.Ns[:3] {
		if rr.Header().Rrtype != dns.TypeNS {
			t.Errorf("Ns starts with %v, want NS", rr)
		}
	}
}

// Wildcard synthesis must copy: the snapshot's records keep their owner.
func TestWildcardDoesNotWriteSnapshot(t *testing.T) {
	z := mustParse(t, lookupZone, Options{})
	a := z.Lookup("one.wild.example.test.", dns.TypeA)
	b := z.Lookup("two.wild.example.test.", dns.TypeA)
	if a.Answer[0] == b.Answer[0] {
		t.Fatal("two synthesised answers share one record")
	}
	if got := a.Answer[0].Header().Name; got != "one.wild.example.test." {
		t.Errorf("first answer owner changed to %q by the second lookup", got)
	}
	w := z.Lookup("*.wild.example.test.", dns.TypeA)
	if got := w.Answer[0].Header().Name; got != "*.wild.example.test." {
		t.Errorf("wildcard record owner = %q after synthesis", got)
	}
}

// The negative SOA is a copy with TTL min(SOA TTL, MINIMUM); the SOA itself keeps its TTL.
func TestNegativeSOA(t *testing.T) {
	for _, tc := range []struct {
		name, soa string
		want      uint32
	}{
		{"minimum lower", "@ 3600 SOA ns1 h 1 2 3 4 300", 300},
		{"ttl lower", "@ 60 SOA ns1 h 1 2 3 4 300", 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := mustParse(t, tc.soa+"\n@ NS ns1\nns1 A 192.0.2.1\n", Options{})
			r := z.Lookup("nope.example.test.", dns.TypeA)
			if len(r.Ns) != 1 || r.Ns[0].Header().Ttl != tc.want {
				t.Fatalf("Ns = %v, want the SOA with TTL %d", r.Ns, tc.want)
			}
			if r.Ns[0] == dns.RR(z.SOA()) {
				t.Error("Ns holds the zone's SOA itself, not a copy")
			}
			if got := z.SOA().Hdr.Ttl; got == tc.want && got != 60 {
				t.Errorf("zone SOA TTL changed to %d", got)
			}
		})
	}
}

func TestMaxTTL(t *testing.T) {
	const text = `@ 2000000 SOA ns1 h 1 2 3 4 300
@ NS ns1
ns1 3600 A 192.0.2.1
big 1000000 A 192.0.2.2
small 60 A 192.0.2.3
`
	z := mustParse(t, text, Options{MaxTTL: 604800})
	for _, tc := range []struct {
		qname string
		qtype uint16
		want  uint32
	}{
		{"big.example.test.", dns.TypeA, 604800},
		{"small.example.test.", dns.TypeA, 60},
		{"ns1.example.test.", dns.TypeA, 3600},
		{"example.test.", dns.TypeSOA, 604800},
	} {
		r := z.Lookup(tc.qname, tc.qtype)
		if len(r.Answer) != 1 || r.Answer[0].Header().Ttl != tc.want {
			t.Errorf("%s %s: answer %v, want TTL %d", tc.qname, dns.Type(tc.qtype), r.Answer, tc.want)
		}
	}
	z = mustParse(t, text, Options{})
	if r := z.Lookup("big.example.test.", dns.TypeA); r.Answer[0].Header().Ttl != 1000000 {
		t.Errorf("without MaxTTL: TTL %d, want 1000000", r.Answer[0].Header().Ttl)
	}
}

func TestMixedTTLsLowered(t *testing.T) {
	z := mustParse(t, "$TTL 3600\n@ SOA ns1 h 1 2 3 4 300\n@ NS ns1\nns1 A 192.0.2.1\nx 600 A 192.0.2.2\nx 60 A 192.0.2.3\n", Options{})
	r := z.Lookup("x.example.test.", dns.TypeA)
	for _, rr := range r.Answer {
		if rr.Header().Ttl != 60 {
			t.Errorf("%v: want TTL 60 (the lowest of the RRset)", rr)
		}
	}
}

func TestLookupExactDoesNotAllocate(t *testing.T) {
	z := mustParse(t, lookupZone, Options{})
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"www.example.test.", dns.TypeA},
		{"www.example.test.", dns.TypeTXT},
		{"example.test.", dns.TypeNS},
		{"a.b.sub.example.test.", dns.TypeA},
		{"nope.example.test.", dns.TypeA},
		{"b.ent.example.test.", dns.TypeA},
	} {
		if n := testing.AllocsPerRun(100, func() { z.Lookup(q.name, q.qtype) }); n != 0 {
			t.Errorf("Lookup(%s, %s): %v allocations, want 0", q.name, dns.Type(q.qtype), n)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	z := mustParse(b, lookupZone, Options{})
	for _, q := range []struct {
		name, qname string
		qtype       uint16
	}{
		{"exact", "www.example.test.", dns.TypeA},
		{"nxdomain", "nope.example.test.", dns.TypeA},
		{"referral", "host.sub.example.test.", dns.TypeA},
		{"wildcard", "foo.wild.example.test.", dns.TypeA},
		{"cname-chain", "alias.example.test.", dns.TypeA},
	} {
		b.Run(q.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				z.Lookup(q.qname, q.qtype)
			}
		})
	}
}
