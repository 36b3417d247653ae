package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkCacheHitA: the hot path, a signed A answer whose signature is cached.
func BenchmarkCacheHitA(b *testing.B) {
	ring := testRing(b, RingOptions{})
	s := New(Config{})
	answer := rrs(b, "a.example. 600 IN A 192.0.2.1")
	in := &Input{Zone: zone, Kind: Answer, QName: "a.example.", QType: dns.TypeA, Name: "a.example.", SOA: testSOA(b), DO: true}
	m := new(dns.Msg)
	m.Answer = answer
	if err := s.Sign(m, in, ring, t0); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.Answer, m.Ns = answer, nil
		if err := s.Sign(m, in, ring, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMiss: a signing miss per algorithm (each iteration signs a new A RRset).
func BenchmarkMiss(b *testing.B) {
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519, dns.RSASHA256} {
		b.Run(dns.AlgorithmToString[alg], func(b *testing.B) {
			ksk, _ := sharedKeys(b)
			ring := testRing(b, RingOptions{}, ksk, genKey(b, zone, alg, false, true))
			s := New(Config{})
			in := &Input{Zone: zone, Kind: Answer, QName: "a.example.", QType: dns.TypeA, Name: "a.example.", SOA: testSOA(b), DO: true}
			a := mustRR(b, "a.example. 600 IN A 192.0.2.1").(*dns.A)
			m := new(dns.Msg)
			b.ReportAllocs()
			i := uint32(0)
			for b.Loop() {
				i++
				rr := *a
				rr.A = []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
				m.Answer = []dns.RR{&rr}
				if err := s.Sign(m, in, ring, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRRSIGSignP256: the raw miekg/dns signing rate with ECDSA P-256, the floor of a miss.
func BenchmarkRRSIGSignP256(b *testing.B) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	set := rrs(b, "a.example. 600 IN A 192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		sig := &dns.RRSIG{Algorithm: dns.ECDSAP256SHA256, KeyTag: 1, SignerName: zone,
			Inception: uint32(t0.Unix()), Expiration: uint32(t0.Unix() + 3600)}
		if err := sig.Sign(priv, set); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompactDenialRandom: a compact-denial answer for a name never seen before (one
// NSEC signature; the SOA's is cached).
func BenchmarkCompactDenialRandom(b *testing.B) {
	ring := testRing(b, RingOptions{})
	s := New(Config{})
	soa, zsoa := negSOA(b), testSOA(b)
	names := make([]string, 1<<16)
	for i := range names {
		names[i] = fmt.Sprintf("r%d.example.", i)
	}
	m := new(dns.Msg)
	in := &Input{Zone: zone, Mode: Compact, Kind: NXDomain, QType: dns.TypeA, ClosestEncloser: zone, SOA: zsoa, DO: true}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		name := names[i%len(names)] + ""
		if i >= len(names) {
			name = fmt.Sprintf("r%d.example.", i)
		}
		i++
		in.QName, in.Name = name, name
		m.Rcode, m.Answer, m.Ns = dns.RcodeNameError, nil, []dns.RR{soa}
		if err := s.Sign(m, in, ring, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNSECDenialRandom: the same stream of never-seen missing names in NSEC mode: each
// answer carries two chain NSECs whose signatures are cached after the first, so it should
// cost about what a cached positive answer does (BenchmarkCacheHitA), not a signature.
func BenchmarkNSECDenialRandom(b *testing.B) {
	ring := testRing(b, RingOptions{})
	s := New(Config{})
	soa, zsoa := negSOA(b), testSOA(b)
	m := new(dns.Msg)
	in := &Input{Zone: zone, Mode: NSEC, Kind: NXDomain, QType: dns.TypeA, ClosestEncloser: zone, SOA: zsoa, DO: true, Names: testChain}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("r%d.example.", i)
		i++
		in.QName, in.Name = name, name
		m.Rcode, m.Answer, m.Ns = dns.RcodeNameError, nil, []dns.RR{soa}
		if err := s.Sign(m, in, ring, t0); err != nil {
			b.Fatal(err)
		}
	}
	if made := s.Stats().Signatures[dns.ECDSAP256SHA256]; made > 10 {
		b.Fatalf("%d signatures made for %d missing names: the chain's should be reused", made, i)
	}
}

// BenchmarkNSEC3DenialRandom: never-seen missing names in NSEC3 mode: three SHA-1 hashes and
// three cached NSEC3 signatures per answer.
func BenchmarkNSEC3DenialRandom(b *testing.B) {
	ring := testRing(b, RingOptions{})
	s := New(Config{})
	soa, zsoa := negSOA(b), testSOA(b)
	hz := &hashedZone{chainZone: testChain, ents: []string{"b.example.", "w.example."}}
	m := new(dns.Msg)
	in := &Input{Zone: zone, Mode: NSEC3, Kind: NXDomain, QType: dns.TypeA, ClosestEncloser: zone, SOA: zsoa, DO: true, Names: hz}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("r%d.example.", i)
		i++
		in.QName, in.Name = name, name
		m.Rcode, m.Answer, m.Ns = dns.RcodeNameError, nil, []dns.RR{soa}
		if err := s.Sign(m, in, ring, t0); err != nil {
			b.Fatal(err)
		}
	}
	if made := s.Stats().Signatures[dns.ECDSAP256SHA256]; made > 20 {
		b.Fatalf("%d signatures made for %d missing names: the chain's should be reused", made, i)
	}
}
