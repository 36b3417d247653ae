package signer

import (
	"crypto"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestNewDNSKEYAlgorithms(t *testing.T) {
	for _, tc := range []struct {
		name   string
		alg    uint8
		keyLen int // decoded public key octets
	}{
		{"ECDSA P-256", dns.ECDSAP256SHA256, 64},
		{"Ed25519", dns.ED25519, 32},
		{"RSA 2048", dns.RSASHA256, 1 + 3 + 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := genKey(t, zone, tc.alg, false, true)
			raw, err := fromBase64(k.DNSKEY.PublicKey)
			if err != nil || len(raw) != tc.keyLen {
				t.Fatalf("public key %d octets (%v), want %d", len(raw), err, tc.keyLen)
			}
			// A signature made with the private half verifies with the encoded public key:
			// the encoding is what validators decode.
			rrset := rrs(t, "a.example. 300 IN A 192.0.2.1")
			sig := &dns.RRSIG{Algorithm: tc.alg, KeyTag: k.Tag, SignerName: zone,
				Inception: uint32(t0.Unix()), Expiration: uint32(t0.Add(time.Hour).Unix())}
			if err := sig.Sign(k.Signer, rrset); err != nil {
				t.Fatal(err)
			}
			if err := sig.Verify(k.DNSKEY, rrset); err != nil {
				t.Fatalf("verify with NewDNSKEY's key: %v", err)
			}
		})
	}
	t.Run("mismatch", func(t *testing.T) {
		k := genKey(t, zone, dns.ED25519, false, true)
		if _, err := NewDNSKEY(zone, 256, dns.ECDSAP256SHA256, k.Signer.Public(), 3600); err == nil {
			t.Error("Ed25519 key accepted for algorithm 13")
		}
	})
}

func fromBase64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// TestDSMatchesBIND compares DS with dnssec-dsfromkey's output for the same key.
func TestDSMatchesBIND(t *testing.T) {
	tool, err := exec.LookPath("dnssec-dsfromkey")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dnssec-dsfromkey not installed: run scripts/install-test-deps.sh")
		}
		t.Skip("dnssec-dsfromkey not installed")
	}
	ksk, _ := sharedKeys(t)
	ds := DS(ksk.DNSKEY)
	if ds.DigestType != dns.SHA256 || ds.KeyTag != ksk.Tag || ds.Algorithm != dns.ECDSAP256SHA256 {
		t.Fatalf("DS %s", ds)
	}
	f := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(f, []byte(ksk.DNSKEY.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-2", "-f", f, zone).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, out)
	}
	fields := strings.Fields(string(out))
	if len(fields) < 7 || !strings.EqualFold(fields[len(fields)-1], ds.Digest) {
		t.Errorf("DS digest %s, dnssec-dsfromkey says %q", ds.Digest, out)
	}
}

func TestKeyRingRRsets(t *testing.T) {
	ksk, zsk := sharedKeys(t)
	standby := genKey(t, zone, dns.ECDSAP256SHA256, true, false) // published, not signing
	for _, tc := range []struct {
		name        string
		opt         RingOptions
		wantCDSTags []uint16
		deleteSent  bool
	}{
		{"no CDS", RingOptions{}, nil, false},
		{"CDS for active KSKs", RingOptions{CDS: true}, []uint16{ksk.Tag}, false},
		{"CDS for listed keys", RingOptions{CDS: true, CDSKeys: []uint16{standby.Tag}}, []uint16{standby.Tag}, false},
		{"delete sentinel", RingOptions{Delete: true, CDS: true}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testRing(t, tc.opt, ksk, zsk, standby)
			if len(r.DNSKEYs()) != 3 {
				t.Fatalf("%d DNSKEYs, want 3", len(r.DNSKEYs()))
			}
			for _, rr := range append(r.DNSKEYs(), append(r.CDS(), r.CDNSKEY()...)...) {
				if rr.Header().Ttl != 3600 || rr.Header().Name != zone {
					t.Errorf("%s: want owner %s TTL 3600", rr, zone)
				}
			}
			if tc.deleteSent {
				if len(r.CDS()) != 1 || r.CDS()[0].String() != "example.\t3600\tIN\tCDS\t0 0 0 00" {
					t.Errorf("CDS %v, want the delete sentinel", r.CDS())
				}
				if len(r.CDNSKEY()) != 1 || r.CDNSKEY()[0].String() != "example.\t3600\tIN\tCDNSKEY\t0 3 0 AA==" {
					t.Errorf("CDNSKEY %v, want the delete sentinel", r.CDNSKEY())
				}
				return
			}
			var tags []uint16
			for i, rr := range r.CDS() {
				c := rr.(*dns.CDS)
				tags = append(tags, c.KeyTag)
				if c.DigestType != dns.SHA256 {
					t.Errorf("CDS digest type %d", c.DigestType)
				}
				cdk := r.CDNSKEY()[i].(*dns.CDNSKEY)
				if cdk.KeyTag() != c.KeyTag || !strings.EqualFold(cdk.DNSKEY.ToDS(dns.SHA256).Digest, c.Digest) {
					t.Errorf("CDNSKEY %d does not match CDS %d", cdk.KeyTag(), c.KeyTag)
				}
			}
			if !slices.Equal(tags, tc.wantCDSTags) {
				t.Errorf("CDS for %v, want %v", tags, tc.wantCDSTags)
			}
		})
	}
	t.Run("unpublished keys sign but stay out of the DNSKEY RRset", func(t *testing.T) {
		// An algorithm rollover: the new ZSK signs before it is published, the old KSK signs
		// after it was withdrawn.
		newZSK := genKey(t, zone, dns.ED25519, false, true)
		oldKSK := genKey(t, zone, dns.ECDSAP256SHA256, true, true)
		newZSK.Unpublished, oldKSK.Unpublished = true, true
		r := testRing(t, RingOptions{CDS: true}, ksk, zsk, newZSK, oldKSK)
		var tags []uint16
		for _, rr := range r.DNSKEYs() {
			tags = append(tags, rr.(*dns.DNSKEY).KeyTag())
		}
		if !slices.Equal(tags, []uint16{ksk.Tag, zsk.Tag}) {
			t.Errorf("DNSKEY RRset %v, want %v", tags, []uint16{ksk.Tag, zsk.Tag})
		}
		if len(r.zsks) != 2 || len(r.ksks) != 2 {
			t.Errorf("%d ZSKs and %d KSKs sign, want 2 and 2", len(r.zsks), len(r.ksks))
		}
		if len(r.CDS()) != 1 || r.CDS()[0].(*dns.CDS).KeyTag != ksk.Tag {
			t.Errorf("CDS %v, want only the published KSK", r.CDS())
		}
		if len(r.premade) != 3*2 { // DNSKEY, CDS and CDNSKEY, by each KSK
			t.Errorf("%d KSK signatures, want 6", len(r.premade))
		}
	})
	t.Run("generation", func(t *testing.T) {
		a, b := testRing(t, RingOptions{}), testRing(t, RingOptions{})
		if a.Generation() == b.Generation() || a.Generation() == 0 {
			t.Errorf("generations %d, %d", a.Generation(), b.Generation())
		}
	})
	t.Run("no active KSK", func(t *testing.T) {
		if _, err := NewKeyRing(zone, []*Key{zsk, standby}, RingOptions{}, t0, Config{}); err == nil {
			t.Error("ring without an active KSK accepted")
		}
	})
}

// apexKeyQuery is a NODATA at the apex for typ, as the zone (which holds no keys) answers.
func apexKeyQuery(typ uint16) query {
	return query{name: dns.TypeToString[typ], qname: zone, qtype: typ, kind: NoData, ns: []string{soaNeg},
		in: func(in *Input) { in.Types = []uint16{dns.TypeNS, dns.TypeSOA} }}
}

func TestApexKeyRRsets(t *testing.T) {
	ksk, zsk := sharedKeys(t)
	for _, opt := range []RingOptions{{CDS: true}, {Delete: true}} {
		ring := testRing(t, opt, ksk, zsk)
		for _, typ := range []uint16{dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY} {
			for _, do := range []bool{false, true} {
				name := dns.TypeToString[typ]
				if opt.Delete {
					name += "/delete"
				}
				if do {
					name += "/DO"
				}
				t.Run(name, func(t *testing.T) {
					m, in := apexKeyQuery(typ).build(t, Compact, do)
					snap := takeSnapshot(m)
					if err := New(Config{}).Sign(m, in, ring, t0); err != nil {
						t.Fatal(err)
					}
					snap.check(t)
					if m.Rcode != dns.RcodeSuccess || len(m.Ns) != 0 || countType(m.Answer, typ) != len(ring.RRset(typ)) {
						t.Fatalf("want a positive %s answer, got\n%s", name, m)
					}
					if !do {
						if countType(m.Answer, dns.TypeRRSIG) != 0 {
							t.Error("RRSIG without DO")
						}
						return
					}
					sigs := verifyAll(t, m, ring, t0, in)[zone+"/"+dns.TypeToString[typ]]
					if len(sigs) != 1 || sigs[0].KeyTag != ksk.Tag {
						t.Errorf("want one signature by the KSK %d, got %v", ksk.Tag, sigs)
					}
				})
			}
		}
	}
	t.Run("apex nodata bitmap lists CDS", func(t *testing.T) {
		ring := testRing(t, RingOptions{CDS: true}, ksk, zsk)
		m, in := apexKeyQuery(dns.TypeTXT).build(t, Compact, true)
		if err := New(Config{}).Sign(m, in, ring, t0); err != nil {
			t.Fatal(err)
		}
		n := nsecs(m.Ns)
		want := []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY}
		if len(n) != 1 || !slices.Equal(n[0].TypeBitMap, want) {
			t.Errorf("apex NSEC %v, want bitmap %v", n, want)
		}
	})
}

// TestSigningKeys: which keys sign what. A CSK (no ZSK) signs everything; two active ZSKs of
// different algorithms (an algorithm rollover) both sign every RRset.
func TestSigningKeys(t *testing.T) {
	ksk, zsk := sharedKeys(t)
	ed := genKey(t, zone, dns.ED25519, false, true)
	rsaZSK := genKey(t, zone, dns.RSASHA256, false, false) // published only
	for _, tc := range []struct {
		name string
		keys []*Key
		want []uint16 // tags signing a.example A
	}{
		{"KSK+ZSK", []*Key{ksk, zsk}, []uint16{zsk.Tag}},
		{"CSK", []*Key{ksk}, []uint16{ksk.Tag}},
		{"algorithm rollover", []*Key{ksk, zsk, ed, rsaZSK}, []uint16{zsk.Tag, ed.Tag}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring := testRing(t, RingOptions{}, tc.keys...)
			m, in := qAnswer.build(t, Compact, true)
			if err := New(Config{}).Sign(m, in, ring, t0); err != nil {
				t.Fatal(err)
			}
			var tags []uint16
			for _, sig := range verifyAll(t, m, ring, t0, in)["a.example./A"] {
				tags = append(tags, sig.KeyTag)
			}
			if !slices.Equal(tags, tc.want) {
				t.Errorf("signed by %v, want %v", tags, tc.want)
			}
		})
	}
}

func TestPremadeKSKSigs(t *testing.T) {
	_, zsk := sharedKeys(t)
	real := genKey(t, zone, dns.ECDSAP256SHA256, true, true)
	opt := RingOptions{CDS: true}
	sigs, err := PremakeKSKSigs(zone, []*Key{real, zsk}, opt, t0, 15, 24*time.Hour, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 15*3 {
		t.Fatalf("%d signatures, want 15 for each of DNSKEY, CDS, CDNSKEY", len(sigs))
	}
	// The KSK's signer is now unreachable: the ring is built from the pre-made signatures.
	down := *real
	down.Signer = failSigner{pub: real.Signer.Public()}
	opt.KSKSigs = sigs
	ring, err := NewKeyRing(zone, []*Key{&down, zsk}, opt, t0, Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{}.withDefaults()
	wantUntil := t0.Add(14*24*time.Hour + cfg.Validity)
	if got := ring.PremadeValidUntil(); !got.Equal(wantUntil) {
		t.Errorf("PremadeValidUntil %s, want %s", got, wantUntil)
	}
	s := New(Config{})
	for _, tc := range []struct {
		name    string
		at      time.Duration
		wantErr bool
	}{
		{"now", 0, false},
		{"after 3 days", 3 * 24 * time.Hour, false},
		{"after 10 days", 10 * 24 * time.Hour, false},
		{"after 19 days, under Refresh left", 19*24*time.Hour + 12*time.Hour, false},
		{"after 22 days: all expired", 22 * 24 * time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.at)
			m, in := apexKeyQuery(dns.TypeDNSKEY).build(t, Compact, true)
			before := m.String()
			err := s.Sign(m, in, ring, now)
			if tc.wantErr {
				if err == nil {
					t.Fatal("signed with every pre-made signature expired and the KSK down")
				}
				if m.String() != before {
					t.Error("message changed on error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := verifyAll(t, m, ring, now, in)[zone+"/DNSKEY"]
			if len(got) != 1 {
				t.Fatalf("%d DNSKEY signatures", len(got))
			}
			// The pick is the valid signature with the latest expiration.
			for _, sig := range sigs {
				if sig.TypeCovered == dns.TypeDNSKEY && sig.ValidityPeriod(now) && sig.Expiration > got[0].Expiration {
					t.Errorf("served expiration %d, a later valid one %d exists", got[0].Expiration, sig.Expiration)
				}
			}
		})
	}
	t.Run("failing signer cannot premake", func(t *testing.T) {
		if _, err := PremakeKSKSigs(zone, []*Key{&down, zsk}, RingOptions{}, t0, 15, 0, Config{}); err == nil {
			t.Error("premade with a failing signer")
		}
		if _, err := NewKeyRing(zone, []*Key{&down, zsk}, RingOptions{}, t0, Config{}); err == nil {
			t.Error("ring signed its DNSKEY with a failing signer")
		}
	})
	t.Run("stale pre-made set refused", func(t *testing.T) {
		other := genKey(t, zone, dns.ECDSAP256SHA256, false, false)
		// Same KSK, but the DNSKEY RRset now has another key: the signatures no longer match.
		if _, err := NewKeyRing(zone, []*Key{&down, zsk, other}, opt, t0, Config{}); err == nil {
			t.Error("pre-made signatures over another DNSKEY RRset accepted")
		}
	})
}

var _ crypto.Signer = failSigner{}

// TestPremadeDigest: a ring made with NewPremadeKeyRing serves signatures that verify; a later
// ring over the same keys takes them by its digest, without verifying them (a signature
// spoiled after the digest was taken passes, which shows no verification ran), and refuses
// them when the RRsets or the signatures differ from what the digest covers.
func TestPremadeDigest(t *testing.T) {
	_, zsk := sharedKeys(t)
	ksk := genKey(t, zone, dns.ECDSAP256SHA256, true, true)
	opt := RingOptions{CDS: true}
	made, sigs, err := NewPremadeKeyRing(zone, []*Key{ksk, zsk}, opt, t0, 15, 24*time.Hour, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 15*3 || !slices.Equal(made.Premade(), sigs) {
		t.Fatalf("%d signatures (ring holds %d), want 15 for each of DNSKEY, CDS, CDNSKEY", len(sigs), len(made.Premade()))
	}
	for _, sig := range sigs {
		if err := sig.Verify(ksk.DNSKEY, made.RRset(sig.TypeCovered)); err != nil {
			t.Fatalf("pre-made %s signature does not verify: %v", dns.TypeToString[sig.TypeCovered], err)
		}
	}
	digest := made.PremadeDigest()
	opt.KSKSigs, opt.KSKSigsDigest = sigs, digest
	again, err := NewKeyRing(zone, []*Key{ksk, zsk}, opt, t0, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.PremadeDigest(), digest) {
		t.Error("the same keys and signatures give another digest")
	}
	// Saved in presentation form and parsed again (as the key manager keeps them), the
	// signatures give the same digest.
	parsed := make([]*dns.RRSIG, len(sigs))
	for i, sig := range sigs {
		rr, err := dns.NewRR(sig.String())
		if err != nil {
			t.Fatal(err)
		}
		parsed[i] = rr.(*dns.RRSIG)
	}
	if !slices.Equal(again.digest(parsed), digest) {
		t.Error("the signatures parsed from their presentation form give another digest")
	}

	spoiled := make([]*dns.RRSIG, len(sigs))
	for i, s := range sigs {
		spoiled[i] = dns.Copy(s).(*dns.RRSIG)
	}
	raw, _ := base64.StdEncoding.DecodeString(spoiled[0].Signature)
	raw[0] ^= 1
	spoiled[0].Signature = base64.StdEncoding.EncodeToString(raw)
	t.Run("taken by digest, not verified", func(t *testing.T) {
		o := opt
		o.KSKSigs, o.KSKSigsDigest = spoiled, again.digest(spoiled)
		if _, err := NewKeyRing(zone, []*Key{ksk, zsk}, o, t0, Config{}); err != nil {
			t.Errorf("signatures matching their digest were verified: %v", err)
		}
	})
	t.Run("signatures changed since the digest", func(t *testing.T) {
		o := opt
		o.KSKSigs = spoiled
		if _, err := NewKeyRing(zone, []*Key{ksk, zsk}, o, t0, Config{}); err == nil {
			t.Error("a spoiled signature accepted under the digest of the good set")
		}
	})
	t.Run("RRsets changed since the digest", func(t *testing.T) {
		other := genKey(t, zone, dns.ECDSAP256SHA256, false, false)
		if _, err := NewKeyRing(zone, []*Key{ksk, zsk, other}, opt, t0, Config{}); err == nil {
			t.Error("signatures over another DNSKEY RRset accepted by digest")
		}
		// The TTL is part of the digest (verification itself ignores it: RFC 4034 §3.1.4
		// signs the original TTL).
		o := opt
		o.DNSKEYTTL = 60
		r, err := NewKeyRing(zone, []*Key{ksk, zsk}, o, t0, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(r.digest(sigs), digest) {
			t.Error("another DNSKEY TTL gives the same digest")
		}
	})
}
