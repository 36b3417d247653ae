package server

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

const dnameTestZone = `$ORIGIN example.test.
$TTL 3600
@		SOA	ns1 hostmaster 1 7200 3600 1209600 300
@		NS	ns1
ns1		A	192.0.2.53
old		DNAME	new
www.new		A	192.0.2.7
long		DNAME	a23456789012345678901234567890123456789012345678901234567890123.b23456789012345678901234567890123456789012345678901234567890123.c23456789012345678901234567890123456789012345678901234567890123
`

// TestDNAMEThroughBothCaches: a signed DNAME answer is signed once (the signature cache keeps
// the DNAME's RRSIG; the synthesised CNAME is never signed) and then comes from the packet
// cache; a redirect to a missing name is a missing-name answer, cached after its second sight.
func TestDNAMEThroughBothCaches(t *testing.T) {
	z, err := zones.Parse(strings.NewReader(dnameTestZone), "example.test.", "dname.zone", zones.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := zones.NewStore()
	st.Set(z)
	sig := signer.New(signer.Config{})
	h := NewHandler(st, oneRing{testRing(t)}, sig, Config{Logger: quietLogger()}, nil)
	ask := func(name string) *dns.Msg {
		q := query(name, dns.TypeA, true)
		q.IsEdns0().SetDo()
		return serve(t, h, q)
	}

	first := ask("www.old.example.test.")
	if first.Rcode != dns.RcodeSuccess || len(first.Answer) != 5 {
		t.Fatalf("want DNAME, its RRSIG, the CNAME, A and its RRSIG:\n%v", first)
	}
	for _, rr := range first.Answer {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == dns.TypeCNAME {
			t.Errorf("the synthesised CNAME is signed: %v", s)
		}
	}
	again := ask("www.old.example.test.")
	again.Id = first.Id
	if h.pcache.hits.Load() != 1 || again.String() != first.String() {
		t.Errorf("second ask: %d packet-cache hits, same answer %v", h.pcache.hits.Load(), again.String() == first.String())
	}
	// Other names below the owner need no new DNAME signature: after the first denial has
	// signed the SOA, each costs only the NSEC at its target.
	ask("x.old.example.test.")
	made := sig.Stats().Signatures[dns.ECDSAP256SHA256]
	ask("y.old.example.test.")
	if n := sig.Stats().Signatures[dns.ECDSAP256SHA256]; n != made+1 {
		t.Errorf("%d signatures for another name below the DNAME, want 1 (the NSEC of y.new)", n-made)
	}
	for range 2 {
		ask("x.old.example.test.")
	}
	if h.pcache.hits.Load() != 2 { // the first ask of x.old was a miss, the second admitted it
		t.Errorf("missing name behind a DNAME: %d packet-cache hits, want 2 (admitted on second sight)", h.pcache.hits.Load())
	}

	long := "x23456789012345678901234567890123456789012345678901234567890123."
	if r := ask(long + long + "long.example.test."); r.Rcode != dns.RcodeYXDomain || len(r.Answer) != 2 {
		t.Errorf("substitution past 255 octets: want YXDOMAIN with the signed DNAME\n%v", r)
	}
}
