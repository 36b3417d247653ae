package zones

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

const extendZone = `$ORIGIN example.net.
$TTL 300
@ SOA ns1 host 1 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.1
www CNAME ns1
sub NS ns.other.test.
`

func newRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// TestWith: the extra records are served as zone data (their empty non-terminals exist, the
// NSEC chain and Neighbours hold them), an extra RRset replaces the zone's own of that owner
// and type, the original snapshot is unchanged, and records conflicting with the zone's data
// are refused.
func TestWith(t *testing.T) {
	z, err := Parse(strings.NewReader(extendZone), "example.net.", "test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	sig := "_dsboot.child.test._signal.ns1.example.net."
	extra := []dns.RR{
		newRR(t, sig+" 3600 IN CDS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
		newRR(t, sig+" 3600 IN CDNSKEY 257 3 13 AAAA"),
		newRR(t, "ns1.example.net. 300 IN A 192.0.2.2"),
	}
	nz, err := z.With(extra, Options{MaxTTL: 1000})
	if err != nil {
		t.Fatal(err)
	}
	r := nz.Lookup(sig, dns.TypeCDS)
	if r.Kind != Answer || len(r.Answer) != 1 || r.Answer[0].Header().Name != sig {
		t.Fatalf("CDS at the signalling name: %+v", r)
	}
	if got := nz.Lookup(sig, dns.TypeCDNSKEY).Answer; len(got) != 1 || got[0].Header().Ttl != 1000 {
		t.Errorf("CDNSKEY: %v, want one record capped at TTL 1000", got)
	}
	if r := nz.Lookup(sig, dns.TypeA); r.Kind != NoData || len(r.Types) != 2 {
		t.Errorf("A at the signalling name: %+v, want NoData with types CDS CDNSKEY", r)
	}
	if r := nz.Lookup("_signal.ns1.example.net.", dns.TypeTXT); r.Kind != NoData || !r.ENT {
		t.Errorf("_signal.ns1: %+v, want an empty non-terminal", r)
	}
	if r := nz.Lookup("_dsboot.other.test._signal.ns1.example.net.", dns.TypeCDS); r.Kind != NXDomain ||
		r.ClosestEncloser != "test._signal.ns1.example.net." {
		t.Errorf("another child: %+v, want NXDOMAIN, closest encloser the empty non-terminal test._signal.ns1", r)
	}
	if owner, next := nz.Cover(sig); owner != sig || next != "sub.example.net." {
		t.Errorf("NSEC chain at the signal: %s -> %s", owner, next)
	}
	if owner, next := nz.Cover("_dsboot.other.test._signal.ns1.example.net."); owner != sig || next != "sub.example.net." {
		t.Errorf("NSEC covering another child: %s -> %s", owner, next)
	}
	if a := nz.Lookup("ns1.example.net.", dns.TypeA).Answer; len(a) != 1 || a[0].(*dns.A).A.String() != "192.0.2.2" {
		t.Errorf("replaced A RRset: %v", a)
	}
	if r := nz.Lookup("www.example.net.", dns.TypeA); len(r.Answer) != 2 {
		t.Errorf("CNAME chain after With: %v", r.Answer)
	}
	if r := nz.Lookup("x.sub.example.net.", dns.TypeA); r.Kind != Referral || len(r.Ns) != 1 {
		t.Errorf("referral after With: %+v", r)
	}
	if nz.Serial() != 1 || nz.Names() != z.Names()+1 {
		t.Errorf("serial %d names %d (was %d)", nz.Serial(), nz.Names(), z.Names())
	}

	// The original snapshot serves as before.
	if r := z.Lookup(sig, dns.TypeCDS); r.Kind != NXDomain {
		t.Errorf("original zone changed: %+v", r)
	}
	if a := z.Lookup("ns1.example.net.", dns.TypeA).Answer; a[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Errorf("original A changed: %v", a)
	}
	// The caller's records are copied: changing them later changes nothing served.
	extra[0].Header().Ttl = 7
	if got := nz.Lookup(sig, dns.TypeCDS).Answer[0].Header().Ttl; got != 1000 {
		t.Errorf("served TTL %d moved with the caller's record", got)
	}

	// A CDS beside the CNAME at www is refused, naming the problem.
	_, err = z.With([]dns.RR{newRR(t, "www.example.net. 300 IN CDS 1 13 2 00ff")}, Options{})
	if err == nil || !strings.Contains(err.Error(), "CNAME and other data") {
		t.Errorf("conflicting extra: %v", err)
	}
	if _, err := Unavailable("x.test.").With(nil, Options{}); err == nil {
		t.Error("With on a zone without data succeeded")
	}
}
