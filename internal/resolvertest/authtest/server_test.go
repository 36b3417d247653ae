package authtest

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestServeTruncates(t *testing.T) {
	// Eight 200-byte TXT records: about 1,700 bytes, more than 512 or 1232.
	big := strings.Repeat("big 300 IN TXT \""+strings.Repeat("x", 200)+"\"\n", 8)
	z, err := Sign("example.test.", testZone+big, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	addr := Serve(t, z)
	tests := []struct {
		name    string
		net     string
		edns    uint16 // 0: no EDNS
		tc      bool
		maxSize int
	}{
		{name: "udp without EDNS", net: "udp", tc: true, maxSize: dns.MinMsgSize},
		{name: "udp EDNS 1232", net: "udp", edns: 1232, tc: true, maxSize: 1232},
		{name: "udp EDNS 4096", net: "udp", edns: 4096},
		{name: "tcp", net: "tcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetQuestion("big.example.test.", dns.TypeTXT)
			if tc.edns > 0 {
				m.SetEdns0(tc.edns, true)
			}
			c := &dns.Client{Net: tc.net, UDPSize: max(tc.edns, dns.MinMsgSize), Timeout: 5 * time.Second}
			r, _, err := c.Exchange(m, addr)
			if err != nil {
				t.Fatal(err)
			}
			if r.Truncated != tc.tc {
				t.Errorf("TC=%v, want %v", r.Truncated, tc.tc)
			}
			if tc.maxSize > 0 && r.Len() > tc.maxSize {
				t.Errorf("response is %d bytes, over %d", r.Len(), tc.maxSize)
			}
			if !tc.tc && len(r.Answer) < 8 {
				t.Errorf("untruncated answer has %d records, want at least 8", len(r.Answer))
			}
		})
	}
}

func TestLiveSwaps(t *testing.T) {
	z1 := mustSign(t)
	z2, err := SignWith("example.test.", strings.ReplaceAll(testZone, "192.0.2.1", "192.0.2.9"), testNow, z1.DNSKEY, z1.Signer)
	if err != nil {
		t.Fatal(err)
	}
	live := NewLive(z1)
	addr := Serve(t, live)
	first := func() string {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion("www.example.test.", dns.TypeA)
		r, err := dns.Exchange(m, addr)
		if err != nil || len(r.Answer) == 0 {
			t.Fatalf("exchange: %v %v", err, r)
		}
		return r.Answer[0].(*dns.A).A.String()
	}
	if got := first(); got != "192.0.2.1" {
		t.Fatalf("before Store: %s", got)
	}
	live.Store(z2)
	if got := first(); got != "192.0.2.9" {
		t.Fatalf("after Store: %s", got)
	}
}
