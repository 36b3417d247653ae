package signer

import (
	"testing"

	"github.com/miekg/dns"
)

// glueNames is the test zone's names, and the names whose addresses are glue.
type glueNames struct {
	zoneNames
	glue map[string]bool
}

func (g glueNames) Glue(name string) bool { return g.glue[name] }

// TestSignAdditional checks RFC 4035 §3.1.1 for the additional section: the zone's own
// addresses there (an MX target's) carry an RRSIG that verifies, glue (below a cut) and a
// referral's additional records carry none, the OPT stays last, and without DO nothing is
// added.
func TestSignAdditional(t *testing.T) {
	ring := testRing(t, RingOptions{})
	zsk := ring.zsks[0].DNSKEY
	g := glueNames{zoneNames: names, glue: map[string]bool{"ns.sub.example.": true}}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	mx := query{name: "mx", qname: "example.", qtype: dns.TypeMX, kind: Answer,
		answer: []string{"example. 600 IN MX 10 a.example.", "example. 600 IN MX 20 ns.sub.example."},
		extra:  []string{"a.example. 600 IN A 192.0.2.1", "a.example. 600 IN AAAA 2001:db8::1", "ns.sub.example. 3600 IN A 192.0.2.53"}}
	for _, mode := range []Mode{Compact, BlackLies, WhiteLies} {
		t.Run(modeName(mode), func(t *testing.T) {
			m, in := mx.build(t, mode, true)
			in.Names = g
			m.Extra = append(m.Extra, opt)
			snap := takeSnapshot(m)
			if err := New(Config{}).Sign(m, in, ring, t0); err != nil {
				t.Fatal(err)
			}
			snap.check(t)
			if last := m.Extra[len(m.Extra)-1]; last != dns.RR(opt) {
				t.Errorf("OPT not last: %v", m.Extra)
			}
			signed := map[uint16][]dns.RR{}
			for _, rr := range m.Extra {
				if rr.Header().Name == "a.example." && rr.Header().Rrtype != dns.TypeRRSIG {
					signed[rr.Header().Rrtype] = append(signed[rr.Header().Rrtype], rr)
				}
			}
			covered := map[uint16]bool{}
			for _, rr := range m.Extra {
				sig, ok := rr.(*dns.RRSIG)
				if !ok {
					continue
				}
				if sig.Hdr.Name != "a.example." {
					t.Errorf("glue signed: %s", sig)
					continue
				}
				if err := sig.Verify(zsk, signed[sig.TypeCovered]); err != nil {
					t.Errorf("RRSIG %s does not verify: %v", dns.TypeToString[sig.TypeCovered], err)
				}
				covered[sig.TypeCovered] = true
			}
			if !covered[dns.TypeA] || !covered[dns.TypeAAAA] || len(covered) != 2 {
				t.Errorf("additional RRsets signed: %v, want A and AAAA of a.example.\n%v", covered, m.Extra)
			}
		})
	}
	t.Run("no DO", func(t *testing.T) {
		m, in := mx.build(t, Compact, false)
		in.Names = g
		if err := New(Config{}).Sign(m, in, ring, t0); err != nil {
			t.Fatal(err)
		}
		if n := countType(m.Extra, dns.TypeRRSIG); n != 0 {
			t.Errorf("%d RRSIGs without DO", n)
		}
	})
	t.Run("referral", func(t *testing.T) {
		m, in := qSecureRef.build(t, Compact, true)
		in.Names = glueNames{zoneNames: names} // even a name not known as glue: a referral's additional is glue
		if err := New(Config{}).Sign(m, in, ring, t0); err != nil {
			t.Fatal(err)
		}
		if n := countType(m.Extra, dns.TypeRRSIG); n != 0 {
			t.Errorf("referral glue signed (%d RRSIGs)", n)
		}
	})
}
