package zones_test

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/zones"
)

func Example() {
	const text = `$TTL 3600
@	SOA	ns1 hostmaster 1 7200 3600 1209600 300
@	NS	ns1
ns1	A	192.0.2.53
www	A	192.0.2.80
alias	CNAME	www
*.wild	TXT	"wildcard"
`
	z, err := zones.Parse(strings.NewReader(text), "example.test.", "example.test.zone", zones.Options{MaxTTL: 604800})
	if err != nil {
		fmt.Println(err)
		return
	}
	store := zones.NewStore()
	store.Set(z)

	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"alias.example.test.", dns.TypeA},
		{"x.wild.example.test.", dns.TypeTXT},
		{"nope.example.test.", dns.TypeA},
	} {
		r := store.Match(q.name).Lookup(q.name, q.qtype)
		fmt.Println(r.Kind, len(r.Answer), r.Name)
	}
	// Output:
	// answer 2 www.example.test.
	// answer 1 x.wild.example.test.
	// nxdomain 0 nope.example.test.
}
