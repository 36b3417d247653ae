package zones

import (
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// TestWalkAndChain: Walk gives every record once, SOA first, with glue and the NS at a cut as
// not authoritative; Cover and ChainTypes follow the NSEC chain (no glue, no empty
// non-terminals, at a cut only NS and DS).
func TestWalkAndChain(t *testing.T) {
	z, err := Load("example.test.", "../testdata/example.test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var first dns.RR
	total, nonAuth := 0, map[string]bool{}
	z.Walk(func(set []dns.RR, auth bool) {
		if first == nil {
			first = set[0]
		}
		total += len(set)
		if !auth {
			h := set[0].Header()
			nonAuth[h.Name+" "+dns.TypeToString[h.Rrtype]] = true
		}
	})
	if first == nil || first.Header().Rrtype != dns.TypeSOA {
		t.Fatalf("first RRset %v, want the SOA", first)
	}
	for _, want := range []string{"signed.example.test. NS", "ns1.signed.example.test. A", "unsigned.example.test. NS"} {
		if !nonAuth[want] {
			t.Errorf("%s is not marked non-authoritative (%v)", want, nonAuth)
		}
	}
	if nonAuth["signed.example.test. DS"] || nonAuth["example.test. NS"] {
		t.Errorf("authoritative RRsets marked otherwise: %v", nonAuth)
	}
	// Every record of the zone once: rebuild and compare with a zone built from the walk.
	var all []dns.RR
	z.Walk(func(set []dns.RR, _ bool) { all = append(all, set...) })
	z2, err := FromRecords("example.test.", all, "walk", Options{})
	if err != nil || z2.Names() != z.Names() || len(all) != total {
		t.Fatalf("rebuilt from the walk: %v, names %d vs %d", err, z2.Names(), z.Names())
	}

	for _, c := range []struct{ name, owner, next string }{
		{"example.test.", "example.test.", "_sip._tcp.example.test."},
		{"b.ent.example.test.", "big.example.test.", "a.b.ent.example.test."},       // empty non-terminal: covered
		{"zzz.example.test.", "www.example.test.", "example.test."},                 // wraps to the apex
		{"x.ns1.signed.example.test.", "signed.example.test.", "sip.example.test."}, // below a cut
	} {
		owner, next := z.Cover(c.name)
		if owner != c.owner || next != c.next {
			t.Errorf("Cover(%s) = %s, %s; want %s, %s", c.name, owner, next, c.owner, c.next)
		}
	}
	if got := z.ChainTypes("signed.example.test."); !slices.Equal(got, []uint16{dns.TypeNS, dns.TypeDS}) {
		t.Errorf("types at the signed cut: %v", got)
	}
}

// TestHashedNamesAndMemo: the NSEC3 names are the chain's plus the empty non-terminals not
// below a cut; Memo builds once per snapshot.
func TestHashedNamesAndMemo(t *testing.T) {
	z, err := Load("example.test.", "../testdata/example.test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	ents, names := map[string]bool{}, map[string]bool{}
	z.HashedNames(func(name string, ent bool) {
		if ent {
			ents[name] = true
		} else {
			names[name] = true
		}
	})
	if !ents["ent.example.test."] || !ents["b.ent.example.test."] || len(ents) < 2 {
		t.Errorf("empty non-terminals %v", ents)
	}
	if names["ns1.signed.example.test."] || ents["ns1.signed.example.test."] || !names["signed.example.test."] || !names["example.test."] {
		t.Errorf("names %v", names)
	}
	type key struct{}
	builds := 0
	for range 3 {
		if v := z.Memo(key{}, func() any { builds++; return 7 }); v != 7 {
			t.Fatalf("Memo = %v", v)
		}
	}
	if builds != 1 {
		t.Errorf("built %d times", builds)
	}
}

// TestMinSerial: the SOA serial is raised to MinSerial when it precedes it (RFC 1982), in the
// SOA answer and in negative answers alike, and left alone otherwise.
func TestMinSerial(t *testing.T) {
	base, err := Load("example.test.", "../testdata/example.test.zone", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var all []dns.RR
	base.Walk(func(set []dns.RR, _ bool) { all = append(all, set...) })
	own := base.Serial() // 2024010101
	for _, c := range []struct {
		min, want uint32
	}{
		{own + 5, own + 5},
		{own - 5, own},          // older: kept
		{0, own},                // not set
		{own + 1<<31 + 10, own}, // "older" in sequence space
		{own + 1<<31 - 10, own + 1<<31 - 10},
	} {
		z, err := FromRecords("example.test.", all, "test", Options{MinSerial: c.min})
		if err != nil {
			t.Fatal(err)
		}
		soa := z.Lookup("example.test.", dns.TypeSOA).Answer[0].(*dns.SOA)
		neg := z.Lookup("nope.example.test.", dns.TypeA).Ns[0].(*dns.SOA)
		if z.Serial() != c.want || soa.Serial != c.want || neg.Serial != c.want {
			t.Errorf("MinSerial %d: serial %d, SOA answer %d, negative %d; want %d", c.min, z.Serial(), soa.Serial, neg.Serial, c.want)
		}
	}
}
