package zones

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

// randomLabel makes a label of letters (either case), digits, hyphens and now and then an
// escaped octet (\DDD) or an escaped dot, so that names with escapes and case variants of
// one another are indexed.
func randomLabel(r *rand.Rand) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
	var b strings.Builder
	for range 1 + r.IntN(6) {
		switch r.IntN(20) {
		case 0:
			// Only octets with no other presentation form: "\112" and "p" are one name on
			// the wire, which the text-keyed index (like the parser) does not unify.
			c := r.IntN(256 - 94)
			if c > 32 {
				c += 94
			}
			fmt.Fprintf(&b, `\%03d`, c)
		case 1:
			b.WriteString(`\.`)
		default:
			b.WriteByte(chars[r.IntN(len(chars))])
		}
	}
	return b.String()
}

// randomNames makes n distinct owner names below origin (lowercased as the parser's caller
// does), one to four labels deep, many sharing their upper labels.
func randomNames(r *rand.Rand, origin string, n int) []string {
	tops := make([]string, 1+n/8)
	for i := range tops {
		tops[i] = randomLabel(r) + "." + origin
	}
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		name := tops[r.IntN(len(tops))]
		for range r.IntN(4) {
			name = randomLabel(r) + "." + name
		}
		name = dns.CanonicalName(name)
		if _, ok := dns.IsDomainName(name); !ok || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, name)
	}
	return out
}

// TestIndexMatchesMap builds zones of random names and checks the pointer-free index against
// a map of the same names: every owner and every ancestor up to the apex is found with its
// own name, parent and kind (owner or empty non-terminal), names that are not there (other
// case variants included, since lookups take lowercased names) are not found, and the NSEC
// chain is the owners and the apex in canonical order.
func TestIndexMatchesMap(t *testing.T) {
	t.Parallel()
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 7))
		owners := randomNames(r, testOrigin, 50+r.IntN(400))
		soa, _ := dns.NewRR(testOrigin + " 3600 IN SOA ns.example.test. h.example.test. 1 2 3 4 5")
		ns, _ := dns.NewRR(testOrigin + " 3600 IN NS ns.example.test.")
		rrs := []dns.RR{soa, ns}
		for i, name := range owners {
			rrs = append(rrs, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A: []byte{192, 0, 2, byte(i)}})
		}
		z, err := FromRecords(testOrigin, rrs, "random", Options{})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		// The reference: owners, and every name between an owner and the apex.
		ref := map[string]bool{testOrigin: true} // name -> owns records
		for _, name := range owners {
			ref[name] = true
			for off, end := dns.NextLabel(name, 0); !end && len(name)-off > len(testOrigin); off, end = dns.NextLabel(name, off) {
				if _, ok := ref[name[off:]]; !ok {
					ref[name[off:]] = false
				}
			}
		}
		if len(z.nodes) != len(ref) {
			t.Errorf("seed %d: %d nodes, want %d", seed, len(z.nodes), len(ref))
		}
		for name, owns := range ref {
			n := z.node(name)
			if n == nil {
				t.Errorf("seed %d: %q not found", seed, name)
				continue
			}
			if got := z.nameOf(n); got != name {
				t.Errorf("seed %d: %q found as %q", seed, name, got)
			}
			if n.ent == owns {
				t.Errorf("seed %d: %q ent = %v, want %v", seed, name, n.ent, !owns)
			}
			parent := z.nameOf(&z.nodes[n.parent])
			if name == testOrigin {
				if parent != testOrigin {
					t.Errorf("seed %d: the apex's parent is %q", seed, parent)
				}
			} else if off, _ := dns.NextLabel(name, 0); parent != name[off:] {
				t.Errorf("seed %d: parent of %q is %q, want %q", seed, name, parent, name[off:])
			}
		}
		for range 200 {
			name := randomNames(r, testOrigin, 1)[0]
			for _, q := range []string{name, strings.ToUpper(name), "x" + name} {
				_, want := ref[q]
				if got := z.node(q) != nil; got != want {
					t.Errorf("seed %d: node(%q) found %v, want %v", seed, q, got, want)
				}
			}
		}
		want := []string{testOrigin}
		for name, owns := range ref {
			if owns && name != testOrigin {
				want = append(want, name)
			}
		}
		slices.SortFunc(want, dnsname.Compare)
		if got := chainNames(z); !slices.Equal(got, want) {
			t.Errorf("seed %d: chain order differs from dnsname.Compare:\n got %q\nwant %q", seed, got, want)
		}
	}
}

// TestNameIndexGrows inserts past several growths and finds every name again, and no other.
func TestNameIndexGrows(t *testing.T) {
	t.Parallel()
	x := newNameIndex(0)
	var nodes []node
	var arena []byte
	for i := range 5000 {
		name := fmt.Sprintf("n%d.example.", i)
		if _, ok := x.find(nodes, string(arena), name); ok {
			t.Fatalf("%s found before it was inserted", name)
		}
		nodes = append(nodes, node{name: uint32(len(arena)), nlen: uint16(len(name))})
		arena = append(arena, name...)
		x.insert(x.hash(name), uint32(i))
	}
	for i := range 5000 {
		name := fmt.Sprintf("n%d.example.", i)
		if idx, ok := x.find(nodes, string(arena), name); !ok || idx != uint32(i) {
			t.Fatalf("%s: %d %v, want %d", name, idx, ok, i)
		}
		if _, ok := x.find(nodes, string(arena), "m"+name[1:]); ok {
			t.Fatalf("m%s found", name[1:])
		}
	}
	if load := float64(x.count) / float64(len(x.slots)); load > 0.7 {
		t.Errorf("load factor %.2f over 0.7", load)
	}
}

// TestIndexLookupAllocs checks that finding a name allocates nothing, in the zone or while
// building.
func TestIndexLookupAllocs(t *testing.T) {
	z := mustParse(t, lookupZone, Options{})
	name := "www." + testOrigin
	if n := testing.AllocsPerRun(100, func() { z.node(name) }); n != 0 {
		t.Errorf("Zone.node: %v allocations", n)
	}
	b := &builder{origin: testOrigin, index: newNameIndex(0)}
	b.nodeOf(name)
	if n := testing.AllocsPerRun(100, func() { b.nodeOf(name) }); n != 0 {
		t.Errorf("builder.nodeOf: %v allocations", n)
	}
}
