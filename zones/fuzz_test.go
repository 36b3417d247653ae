package zones

import (
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

// FuzzParse feeds arbitrary master files to Parse and Check and, when a zone loads, looks up
// every owner and a few made-up names: none of it may panic, and every lookup result must be
// self-consistent.
func FuzzParse(f *testing.F) {
	f.Add(lookupZone)
	f.Add(checkBase)
	f.Add("$TTL 1\n@ SOA a b 1 2 3 4 5\n*.* A 192.0.2.1\n*.x CNAME *.x\nx.* NS a.x.*\n")
	f.Add("$TTL 1\n@ SOA a b 1 2 3 4 5\n@ NS a.b\nb NS c\na.b A 1.2.3.4\nc.b DS 1 13 2 AB\n")
	f.Add("$ORIGIN sub\n@ 1 IN SOA ( a b 1 2 3 4 5 ) ; x\n\\046 A 1.1.1.1\n")
	f.Fuzz(func(t *testing.T, text string) {
		// $INCLUDE could open anything (/dev/zero never ends); $GENERATE makes zones of any size
		// and only slows the fuzzer down. Both are the parser's, not ours.
		if up := strings.ToUpper(text); strings.Contains(up, "$INCLUDE") || strings.Contains(up, "$GENERATE") {
			t.Skip()
		}
		Check(strings.NewReader(text), testOrigin, "fuzz.zone")
		z, err := Parse(strings.NewReader(text), testOrigin, "fuzz.zone", Options{MaxTTL: 604800})
		if err != nil {
			return
		}
		names := []string{testOrigin, "nope.example.test.", "*.example.test.", "a.b.c.example.test."}
		for _, name := range nodeNames(z) {
			names = append(names, name, "x."+name)
		}
		for _, name := range names {
			for _, qt := range []uint16{dns.TypeA, dns.TypeNS, dns.TypeDS, dns.TypeCNAME, dns.TypeANY, dns.TypeMX} {
				r := z.Lookup(name, qt)
				if (r.Kind == NXDomain || r.Kind == NoData) && dnsname.InZone(name, z.origin) && len(r.Ns) != 1 {
					t.Fatalf("%s %d: %v without the SOA", name, qt, r.Kind)
				}
				if r.Kind == Referral && (r.Cut == "" || len(r.Ns) == 0) {
					t.Fatalf("%s %d: referral without a cut or NS", name, qt)
				}
				if len(r.Answer) > 2*maxChain+64 {
					t.Fatalf("%s %d: %d answers", name, qt, len(r.Answer))
				}
			}
			z.Neighbours(name)
		}
	})
}
