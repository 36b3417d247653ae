package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const zone = "example."

func mustRR(t testing.TB, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return rr
}

func rrs(t testing.TB, lines ...string) []dns.RR {
	t.Helper()
	out := make([]dns.RR, len(lines))
	for i, l := range lines {
		out[i] = mustRR(t, l)
	}
	return out
}

// genKey makes a key of algorithm alg for zone.
func genKey(t testing.TB, zone string, alg uint8, ksk, active bool) *Key {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case dns.ECDSAP256SHA256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case dns.ED25519:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case dns.RSASHA256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("algorithm %d", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	flags := uint16(dns.ZONE)
	if ksk {
		flags |= dns.SEP
	}
	dk, err := NewDNSKEY(zone, flags, alg, priv.Public(), 3600)
	if err != nil {
		t.Fatal(err)
	}
	return NewKey(dk, priv, active)
}

var (
	keyOnce    sync.Once
	kskP, zskP *Key // ECDSA P-256 pair, shared by tests that do not care about the keys

)

func sharedKeys(t testing.TB) (ksk, zsk *Key) {
	keyOnce.Do(func() {
		kskP = genKey(t, zone, dns.ECDSAP256SHA256, true, true)
		zskP = genKey(t, zone, dns.ECDSAP256SHA256, false, true)
	})
	return kskP, zskP
}

func testRing(t testing.TB, opt RingOptions, keys ...*Key) *KeyRing {
	t.Helper()
	if len(keys) == 0 {
		k, z := sharedKeys(t)
		keys = []*Key{k, z}
	}
	r, err := NewKeyRing(zone, keys, opt, t0, Config{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// failSigner is a crypto.Signer whose Sign always fails; it reports pub as its public key.
type failSigner struct{ pub crypto.PublicKey }

func (f failSigner) Public() crypto.PublicKey { return f.pub }
func (f failSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("TPM unreachable")
}

// countSigner counts Sign calls of the signer it wraps.
type countSigner struct {
	crypto.Signer
	mu sync.Mutex
	n  int
}

func (c *countSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.Signer.Sign(r, d, o)
}

// zoneNames is a sorted list of a zone's existing names; it implements Neighbours.
type zoneNames []string

func (z zoneNames) Neighbours(name string) (prev, next string) {
	i, _ := slices.BinarySearchFunc(z, name, dnsname.Compare)
	prev = z[(i-1+len(z))%len(z)]
	if i < len(z) && dnsname.Compare(z[i], name) == 0 {
		i++
	}
	return prev, z[i%len(z)]
}

// The test zone's existing names (authoritative names and cuts), canonically sorted.
var names = zoneNames{
	"example.", "a.example.", "b.example.", "c.b.example.", "insecure.example.",
	"sub.example.", "w.example.", "*.w.example.",
}

func testSOA(t testing.TB) *dns.SOA {
	return mustRR(t, "example. 3600 IN SOA ns.example. host.example. 1 7200 3600 1209600 300").(*dns.SOA)
}

// negSOA is the SOA as a negative answer carries it (TTL = min(TTL, MINIMUM)).
func negSOA(t testing.TB) dns.RR {
	return mustRR(t, "example. 300 IN SOA ns.example. host.example. 1 7200 3600 1209600 300")
}

// snapshot records the text of every record m's sections hold, to check Sign left them alone.
type snapshot struct {
	sections [3][]dns.RR
	text     [3][]string
}

func takeSnapshot(m *dns.Msg) snapshot {
	var s snapshot
	for i, sec := range [3][]dns.RR{m.Answer, m.Ns, m.Extra} {
		s.sections[i] = sec
		for _, rr := range sec {
			s.text[i] = append(s.text[i], rr.String())
		}
	}
	return s
}

func (s snapshot) check(t *testing.T) {
	t.Helper()
	for i, sec := range s.sections {
		for j, rr := range sec {
			if rr.String() != s.text[i][j] {
				t.Errorf("section %d record %d modified: %q became %q", i, j, s.text[i][j], rr.String())
			}
		}
	}
}

// verifyAll verifies every RRSIG in the answer and authority sections against the ring's
// keys, checks its validity period at now, that it is not also in the additional section, and
// that every RRset (but a referral's NS) carries a signature from each key in want (tags).
// It returns the RRSIGs by covered owner/type.
// belowDNAME reports whether sec holds a DNAME owned by a proper ancestor of name.
func belowDNAME(sec []dns.RR, name string) bool {
	for _, rr := range sec {
		if d, ok := rr.(*dns.DNAME); ok && dns.CountLabel(name) > dns.CountLabel(d.Hdr.Name) && dns.IsSubDomain(d.Hdr.Name, name) {
			return true
		}
	}
	return false
}

func verifyAll(t *testing.T, m *dns.Msg, ring *KeyRing, now time.Time, in *Input) map[string][]*dns.RRSIG {
	t.Helper()
	keys := map[uint16]*dns.DNSKEY{}
	for _, rr := range ring.DNSKEYs() {
		k := rr.(*dns.DNSKEY)
		keys[k.KeyTag()] = k
	}
	bySet := map[string][]*dns.RRSIG{}
	for _, sec := range [][]dns.RR{m.Answer, m.Ns} {
		sets := map[string][]dns.RR{}
		for _, rr := range sec {
			h := rr.Header()
			if sig, ok := rr.(*dns.RRSIG); ok {
				id := strings.ToLower(h.Name) + "/" + dns.TypeToString[sig.TypeCovered]
				bySet[id] = append(bySet[id], sig)
				continue
			}
			id := strings.ToLower(h.Name) + "/" + dns.TypeToString[h.Rrtype]
			sets[id] = append(sets[id], rr)
		}
		for id, set := range sets {
			sigs := bySet[id]
			h := set[0].Header()
			if in != nil && in.Kind == Referral && h.Rrtype == dns.TypeNS && h.Name != zone {
				if len(sigs) != 0 {
					t.Errorf("%s: referral NS signed", id)
				}
				continue
			}
			if h.Rrtype == dns.TypeCNAME && belowDNAME(sec, h.Name) {
				// RFC 6672 §5.3.1: the CNAME synthesised from a DNAME is not signed.
				if len(sigs) != 0 {
					t.Errorf("%s: CNAME synthesised from a DNAME is signed", id)
				}
				continue
			}
			if len(sigs) == 0 {
				t.Errorf("%s: no RRSIG", id)
			}
			for _, sig := range sigs {
				k := keys[sig.KeyTag]
				if k == nil {
					t.Errorf("%s: RRSIG by unknown key %d", id, sig.KeyTag)
					continue
				}
				if err := sig.Verify(k, set); err != nil {
					t.Errorf("%s: RRSIG by %d does not verify: %v\n%s", id, sig.KeyTag, err, sig)
				}
				if !sig.ValidityPeriod(now) {
					t.Errorf("%s: RRSIG not valid at %s: %s", id, now, sig)
				}
				if sig.Hdr.Ttl != h.Ttl || sig.OrigTtl != h.Ttl {
					t.Errorf("%s: RRSIG TTL %d orig %d, RRset TTL %d", id, sig.Hdr.Ttl, sig.OrigTtl, h.Ttl)
				}
			}
		}
	}
	for _, rr := range m.Extra {
		if rr.Header().Rrtype == dns.TypeRRSIG || rr.Header().Rrtype == dns.TypeNSEC {
			t.Errorf("additional section has %s", rr)
		}
	}
	return bySet
}

func nsecs(sec []dns.RR) []*dns.NSEC {
	var out []*dns.NSEC
	for _, rr := range sec {
		if n, ok := rr.(*dns.NSEC); ok {
			out = append(out, n)
		}
	}
	return out
}

func countType(sec []dns.RR, typ uint16) int {
	n := 0
	for _, rr := range sec {
		if rr.Header().Rrtype == typ {
			n++
		}
	}
	return n
}
