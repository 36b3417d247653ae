package signer

import (
	"slices"
	"strings"
	"sync"
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

// hashedZone adds what NSEC3 mode needs to chainZone: its empty non-terminals and a memo.
type hashedZone struct {
	chainZone
	ents []string
	mu   sync.Mutex
	memo map[any]any
}

func (h *hashedZone) HashedNames(fn func(string, bool)) {
	for _, n := range h.zoneNames {
		fn(n, false)
	}
	for _, n := range h.ents {
		fn(n, true)
	}
}

func (h *hashedZone) Memo(key any, build func() any) any {
	h.mu.Lock()
	defer h.mu.Unlock()
	if v, ok := h.memo[key]; ok {
		return v
	}
	if h.memo == nil {
		h.memo = map[any]any{}
	}
	v := build()
	h.memo[key] = v
	return v
}

// covers reports whether the NSEC3 n matches (exact) or covers the hash of name.
func covers(n *dns.NSEC3, name string, exact bool) bool {
	h := strings.ToUpper(hashOf(name))
	owner := strings.ToUpper(strings.SplitN(n.Hdr.Name, ".", 2)[0])
	if exact {
		return owner == h
	}
	if owner < n.NextDomain {
		return owner < h && h < n.NextDomain
	}
	return h > owner || h < n.NextDomain // the last link wraps
}

// TestNSEC3Mode: the closest encloser proof and the wildcard proof for a missing name, the
// matching NSEC3 of a NODATA (an empty non-terminal included) and of an insecure cut, all
// signed and verifying, with RFC 9276 parameters, identical to ZoneNSEC3's records.
func TestNSEC3Mode(t *testing.T) {
	t.Parallel()
	ring := testRing(t, RingOptions{})
	s := New(Config{})
	hz := &hashedZone{chainZone: testChain, ents: []string{"b.example.", "w.example."}}
	set := func(in *Input) { in.Names = hz }
	type proof struct {
		name  string
		exact bool
	}
	cases := []struct {
		q     query
		rcode int
		want  []proof
	}{
		{withIn(qNX, set), dns.RcodeNameError, []proof{{"example.", true}, {"nx.example.", false}, {"*.example.", false}}},
		{withIn(qNXDeep, set), dns.RcodeNameError, []proof{{"c.b.example.", true}, {"y.c.b.example.", false}, {"*.c.b.example.", false}}},
		{withIn(qNoData, set), dns.RcodeSuccess, []proof{{"a.example.", true}}},
		{withIn(qENT, set), dns.RcodeSuccess, []proof{{"b.example.", true}}},
		{withIn(qInsecureRef, set), dns.RcodeSuccess, []proof{{"insecure.example.", true}}},
	}
	zone3 := map[string]string{}
	for _, rec := range ZoneNSEC3(hz, zone, testSOA(t), ring) {
		zone3[rec.Hdr.Name] = rec.String()
	}
	if len(zone3) != len(testChain.zoneNames)+len(hz.ents) {
		t.Fatalf("ZoneNSEC3: %d records for %d names", len(zone3), len(testChain.zoneNames)+len(hz.ents))
	}
	for _, c := range cases {
		m, in := c.q.build(t, NSEC3, true)
		if err := s.Sign(m, in, ring, t0); err != nil {
			t.Fatalf("%s: %v", c.q.name, err)
		}
		if m.Rcode != c.rcode {
			t.Errorf("%s: rcode %s", c.q.name, dns.RcodeToString[m.Rcode])
		}
		verifyAll(t, m, ring, t0, in)
		var got []*dns.NSEC3
		for _, rr := range m.Ns {
			if n, ok := rr.(*dns.NSEC3); ok {
				got = append(got, n)
				if n.Hash != dns.SHA1 || n.Flags != 0 || n.Iterations != 0 || n.SaltLength != 0 {
					t.Errorf("%s: parameters %s, want 1 0 0 - (RFC 9276)", c.q.name, n)
				}
				if zone3[n.Hdr.Name] != n.String() {
					t.Errorf("%s: answer %s differs from the zone's %s", c.q.name, n, zone3[n.Hdr.Name])
				}
			}
		}
		for _, p := range c.want {
			found := false
			for _, n := range got {
				found = found || covers(n, p.name, p.exact)
			}
			if !found {
				t.Errorf("%s: no NSEC3 %s %s in %v", c.q.name, map[bool]string{true: "matching", false: "covering"}[p.exact], p.name, got)
			}
		}
	}
	// The insecure cut's NSEC3 lists NS only (no RRSIG: nothing there is signed).
	for _, rec := range ZoneNSEC3(hz, zone, testSOA(t), ring) {
		if covers(rec, "insecure.example.", true) && !slices.Equal(rec.TypeBitMap, []uint16{dns.TypeNS}) {
			t.Errorf("insecure cut bitmap %v", rec.TypeBitMap)
		}
		if covers(rec, "example.", true) && !slices.Contains(rec.TypeBitMap, dns.TypeNSEC3PARAM) {
			t.Errorf("apex bitmap %v lacks NSEC3PARAM", rec.TypeBitMap)
		}
	}
}
