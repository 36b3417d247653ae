package authtest

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testZone = `
@    3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@    3600 IN NS  ns1
ns1  3600 IN A   127.0.0.1
www  300  IN A   192.0.2.1
www  300  IN A   192.0.2.2
mail 300  IN MX  10 www
`

func mustSign(t *testing.T) *Zone {
	t.Helper()
	z, err := Sign("Example.TEST", testZone, testNow)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestCompareNames(t *testing.T) {
	// The canonical order given in RFC 4034 §6.1.
	want := []string{
		`example.`, `a.example.`, `yljkjljk.a.example.`, `Z.a.example.`,
		`zABC.a.EXAMPLE.`, `z.example.`, `\001.z.example.`, `*.z.example.`, `\200.z.example.`,
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		got := slices.Clone(want)
		r.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		slices.SortFunc(got, compareNames)
		if !slices.Equal(got, want) {
			t.Fatalf("sorted %q, want %q", got, want)
		}
	}
}

func TestAnswer(t *testing.T) {
	z := mustSign(t)
	tests := []struct {
		name    string
		qname   string
		qtype   uint16
		do      bool
		rcode   int
		answer  []uint16 // types in the answer section, in order
		ns      []uint16 // types in the authority section, in order
		covered []string // for NXDOMAIN, names that some NSEC must cover
	}{
		{name: "positive", qname: "WWW.example.test.", qtype: dns.TypeA, do: true,
			answer: []uint16{dns.TypeA, dns.TypeA, dns.TypeRRSIG}},
		{name: "positive without DO", qname: "www.example.test.", qtype: dns.TypeA,
			answer: []uint16{dns.TypeA, dns.TypeA}},
		{name: "DNSKEY", qname: "example.test.", qtype: dns.TypeDNSKEY, do: true,
			answer: []uint16{dns.TypeDNSKEY, dns.TypeRRSIG}},
		{name: "NODATA", qname: "www.example.test.", qtype: dns.TypeAAAA, do: true,
			ns: []uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG}},
		// mail < nope < ns1 and example.test < *.example.test < mail: two NSECs.
		{name: "NXDOMAIN", qname: "nope.example.test.", qtype: dns.TypeA, do: true, rcode: dns.RcodeNameError,
			ns:      []uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG},
			covered: []string{"nope.example.test.", "*.example.test."}},
		// mail < *.mail < a.b.mail < ns1: one NSEC proves both, and is sent once.
		{name: "NXDOMAIN below an existing name", qname: "a.b.mail.example.test.", qtype: dns.TypeA, do: true,
			rcode: dns.RcodeNameError, covered: []string{"a.b.mail.example.test.", "*.mail.example.test."},
			ns: []uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG}},
		// The last name's NSEC wraps to the apex and covers everything after it.
		{name: "NXDOMAIN after the last name", qname: "zzz.example.test.", qtype: dns.TypeA, do: true,
			rcode: dns.RcodeNameError, covered: []string{"zzz.example.test.", "*.example.test."},
			ns: []uint16{dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeRRSIG}},
		{name: "outside the zone", qname: "example.org.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := new(dns.Msg)
			req.SetQuestion(tc.qname, tc.qtype)
			req.SetEdns0(1232, tc.do)
			resp := z.Answer(req)
			if resp.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			if got := types(resp.Answer); !slices.Equal(got, tc.answer) {
				t.Errorf("answer types %v, want %v\n%v", got, tc.answer, resp)
			}
			if got := types(resp.Ns); !slices.Equal(got, tc.ns) {
				t.Errorf("authority types %v, want %v\n%v", got, tc.ns, resp)
			}
			verifyAll(t, z, resp.Answer)
			verifyAll(t, z, resp.Ns)
			for _, name := range tc.covered {
				if !covers(resp.Ns, name) {
					t.Errorf("no NSEC covers %s:\n%v", name, resp)
				}
			}
			if tc.rcode == dns.RcodeSuccess && len(tc.ns) > 0 {
				// NODATA: the NSEC at the name must not list the queried type.
				for _, rr := range resp.Ns {
					if n, ok := rr.(*dns.NSEC); ok && slices.Contains(n.TypeBitMap, tc.qtype) {
						t.Errorf("NODATA NSEC lists the queried type: %v", n)
					}
				}
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	tests := []struct {
		name, zone, want string
	}{
		{"no SOA", "www 300 IN A 192.0.2.1", "no SOA"},
		{"delegation", "@ 300 IN SOA ns1 h 1 2 3 4 5\nsub 300 IN NS ns.other.", "delegation"},
		{"outside the zone", "@ 300 IN SOA ns1 h 1 2 3 4 5\nwww.example.org. 300 IN A 192.0.2.1", "outside"},
		{"presigned", "@ 300 IN SOA ns1 h 1 2 3 4 5\n@ 300 IN NSEC a.example.test. A", "made by the signer"},
		{"syntax", "@ 300 IN SOA ns1", "parse zone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Sign("example.test.", tc.zone, testNow)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sign error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestSignWithKeepsKey(t *testing.T) {
	z1 := mustSign(t)
	z2, err := SignWith("example.test.", strings.ReplaceAll(testZone, "192.0.2.2", "192.0.2.3"), testNow, z1.DNSKEY, z1.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if z2.DS.String() != z1.DS.String() {
		t.Fatalf("DS changed: %v -> %v", z1.DS, z2.DS)
	}
	rrs, sigs := z2.RRset("www.example.test.", dns.TypeA)
	if len(sigs) != 1 {
		t.Fatalf("want one RRSIG, got %v", sigs)
	}
	if err := sigs[0].(*dns.RRSIG).Verify(z1.DNSKEY, rrs); err != nil {
		t.Fatalf("new version does not verify under the old key: %v", err)
	}
	if _, err := SignWith("other.test.", testZone, testNow, z1.DNSKEY, z1.Signer); err == nil {
		t.Fatal("SignWith accepted a key owned by another zone")
	}
}

func types(rrs []dns.RR) []uint16 {
	var out []uint16
	for _, rr := range rrs {
		out = append(out, rr.Header().Rrtype)
	}
	return out
}

// verifyAll checks that every RRset in section has an RRSIG that verifies under the
// zone's key at testNow (RFC 4035 §5.3), and every RRSIG covers an RRset present.
func verifyAll(t *testing.T, z *Zone, section []dns.RR) {
	t.Helper()
	sets := map[rrKey][]dns.RR{}
	var sigs []*dns.RRSIG
	for _, rr := range section {
		if s, ok := rr.(*dns.RRSIG); ok {
			sigs = append(sigs, s)
			continue
		}
		k := rrKey{rr.Header().Name, rr.Header().Rrtype}
		sets[k] = append(sets[k], rr)
	}
	if len(sigs) == 0 {
		return // an unsigned (DO=0) response
	}
	for k, rrs := range sets {
		i := slices.IndexFunc(sigs, func(s *dns.RRSIG) bool { return s.Hdr.Name == k.name && s.TypeCovered == k.rtype })
		if i < 0 {
			t.Errorf("%s/%s has no RRSIG", k.name, dns.TypeToString[k.rtype])
			continue
		}
		if err := sigs[i].Verify(z.DNSKEY, rrs); err != nil {
			t.Errorf("RRSIG over %s/%s does not verify: %v", k.name, dns.TypeToString[k.rtype], err)
		}
		if !sigs[i].ValidityPeriod(testNow) {
			t.Errorf("RRSIG over %s/%s is not valid at %v", k.name, dns.TypeToString[k.rtype], testNow)
		}
	}
	if len(sigs) != len(sets) {
		t.Errorf("%d RRSIGs for %d RRsets", len(sigs), len(sets))
	}
}

// covers reports whether an NSEC in section proves name does not exist: its owner sorts
// before name and its next name after it, or it is the last NSEC, wrapping to the apex.
func covers(section []dns.RR, name string) bool {
	for _, rr := range section {
		n, ok := rr.(*dns.NSEC)
		if !ok {
			continue
		}
		after := compareNames(n.Hdr.Name, name) < 0
		before := compareNames(name, n.NextDomain) < 0
		wraps := compareNames(n.NextDomain, n.Hdr.Name) <= 0
		if after && (before || wraps) {
			return true
		}
	}
	return false
}
