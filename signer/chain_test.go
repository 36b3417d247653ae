package signer

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// chainZone is a fake zone for NSEC mode: its chain names and the types at each.
type chainZone struct {
	zoneNames
	types map[string][]uint16
}

func (c chainZone) Cover(name string) (owner, next string) {
	prev, next := c.Neighbours(name)
	if slices.Contains(c.zoneNames, name) {
		return name, next
	}
	return prev, next
}

func (c chainZone) ChainTypes(owner string) []uint16 { return c.types[owner] }

var testChain = chainZone{
	zoneNames: zoneNames{"example.", "a.example.", "c.b.example.", "insecure.example.", "*.w.example."},
	types: map[string][]uint16{
		"example.":          {dns.TypeNS, dns.TypeSOA, dns.TypeMX},
		"a.example.":        {dns.TypeA},
		"c.b.example.":      {dns.TypeA},
		"insecure.example.": {dns.TypeNS},
		"*.w.example.":      {dns.TypeA},
	},
}

// TestNSECMode: answers carry the chain's own NSEC records, NXDOMAIN stays NXDOMAIN, every
// signature verifies, the records equal ZoneNSEC's (so the signed zone and the answers share
// cached signatures), and a second missing name in the same link signs nothing new.
func TestNSECMode(t *testing.T) {
	t.Parallel()
	ksk, zsk := sharedKeys(t)
	counted := &countSigner{Signer: zsk.Signer}
	zsk2 := *zsk
	zsk2.Signer = counted
	ring := testRing(t, RingOptions{}, ksk, &zsk2)
	s := New(Config{})
	set := func(in *Input) { in.Names = testChain }
	cases := []struct {
		q     query
		rcode int
		want  []string // owner -> next of the NSECs, in order
	}{
		{withIn(qNX, set), dns.RcodeNameError, []string{"insecure.example.>*.w.example.", "example.>a.example."}},
		{withIn(qNXDeep, set), dns.RcodeNameError, []string{"c.b.example.>insecure.example."}},
		{withIn(qNoData, set), dns.RcodeSuccess, []string{"a.example.>c.b.example."}},
		{withIn(qENT, set), dns.RcodeSuccess, []string{"a.example.>c.b.example."}},
		{withIn(qInsecureRef, set), dns.RcodeSuccess, []string{"insecure.example.>*.w.example."}},
		{withIn(qApexNoData, set), dns.RcodeSuccess, []string{"example.>a.example."}},
	}
	for _, c := range cases {
		m, in := c.q.build(t, NSEC, true)
		if err := s.Sign(m, in, ring, t0); err != nil {
			t.Fatalf("%s: %v", c.q.name, err)
		}
		if m.Rcode != c.rcode {
			t.Errorf("%s: rcode %s", c.q.name, dns.RcodeToString[m.Rcode])
		}
		verifyAll(t, m, ring, t0, in)
		var got []string
		for _, n := range nsecs(m.Ns) {
			got = append(got, n.Hdr.Name+">"+n.NextDomain)
			if z := ZoneNSEC(testChain, zone, in.SOA, ring, n.Hdr.Name); z.String() != n.String() {
				t.Errorf("%s: answer NSEC %s differs from the zone's %s", c.q.name, n, z)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: NSECs %v, want %v", c.q.name, got, c.want)
		}
	}
	apex := ZoneNSEC(testChain, zone, testSOA(t), ring, "example.")
	if !slices.Equal(apex.TypeBitMap, []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeMX, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY}) {
		t.Errorf("apex bitmap %v", apex.TypeBitMap)
	}

	// Another missing name in a link already used: no new signature.
	before := counted.n
	if before == 0 {
		t.Fatal("the ZSK never signed: the count proves nothing")
	}
	q := withIn(qNX, set)
	q.qname = "nx2.example."
	m, in := q.build(t, NSEC, true)
	if err := s.Sign(m, in, ring, t0); err != nil {
		t.Fatal(err)
	}
	if counted.n != before {
		t.Errorf("a second missing name made %d new signatures, want 0", counted.n-before)
	}

	// Without a chain NSEC mode fails (SERVFAIL), never answers unsigned.
	m, in = qNX.build(t, NSEC, true)
	in.Names = names
	if err := s.Sign(m, in, ring, t0); err == nil {
		t.Error("NSEC mode without a Chain signed")
	}
}

func withIn(q query, f func(*Input)) query {
	prev := q.in
	q.in = func(in *Input) {
		if prev != nil {
			prev(in)
		}
		f(in)
	}
	return q
}
