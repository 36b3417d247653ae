package signer_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
)

// Example wires a key ring and signs a compact-denial answer for a missing name.
func Example() {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var keys []*signer.Key
	for _, flags := range []uint16{257, 256} { // KSK, ZSK
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		dk, _ := signer.NewDNSKEY("example.", flags, dns.ECDSAP256SHA256, priv.Public(), 3600)
		keys = append(keys, signer.NewKey(dk, priv, true))
	}
	ring, err := signer.NewKeyRing("example.", keys, signer.RingOptions{}, now, signer.Config{})
	if err != nil {
		panic(err)
	}
	soa, _ := dns.NewRR("example. 300 IN SOA ns.example. host.example. 1 7200 3600 1209600 300")
	m := new(dns.Msg)
	m.SetQuestion("nx.example.", dns.TypeA)
	m.Rcode, m.Ns = dns.RcodeNameError, []dns.RR{soa}
	in := &signer.Input{Zone: "example.", Mode: signer.Compact, Kind: signer.NXDomain, QName: "nx.example.",
		QType: dns.TypeA, Name: "nx.example.", ClosestEncloser: "example.", SOA: soa.(*dns.SOA), DO: true}
	s := signer.New(signer.Config{})
	if err := s.Sign(m, in, ring, now); err != nil {
		panic(err)
	}
	fmt.Println(dns.RcodeToString[m.Rcode])
	for _, rr := range m.Ns {
		if n, ok := rr.(*dns.NSEC); ok {
			fmt.Println(n.Hdr.Name, n.NextDomain, n.TypeBitMap)
		}
	}
	// Output:
	// NOERROR
	// nx.example. \000.nx.example. [46 47 128]
}
