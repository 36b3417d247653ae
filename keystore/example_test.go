package keystore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/keystore/storetest"

	"github.com/miekg/dns"
)

// Example shows the wiring: create a key, get its Signer, and let miekg/dns
// sign an RRset with it. The signer package does the same with any backend.
func Example() {
	ctx := context.Background()
	var store keystore.Store = memory.New()
	defer store.Close()

	meta, err := store.Create(ctx, "Example.ORG", keystore.ZSK, keystore.ECDSAP256SHA256)
	if err != nil {
		panic(err)
	}
	sg, err := store.Signer(ctx, meta.ID)
	if err != nil {
		panic(err)
	}
	key, err := storetest.DNSKEY(meta.Zone, 256, meta.Algorithm, sg.Public())
	if err != nil {
		panic(err)
	}
	rr, _ := dns.NewRR("www.example.org. 3600 IN A 192.0.2.1")
	now := time.Now()
	sig := &dns.RRSIG{
		Algorithm: meta.Algorithm, KeyTag: key.KeyTag(), SignerName: meta.Zone,
		Inception: uint32(now.Add(-time.Hour).Unix()), Expiration: uint32(now.Add(7 * 24 * time.Hour).Unix()),
	}
	if err := sig.Sign(sg, []dns.RR{rr}); err != nil {
		panic(err)
	}
	fmt.Println(meta.Zone, meta.Role, meta.Algorithm, sig.Verify(key, []dns.RR{rr}) == nil)
	// Output: example.org. ZSK 13 true
}
