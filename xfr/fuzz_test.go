package xfr

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzApplyIXFR feeds arbitrary transfer answers (the records of a DNS message, as a primary
// sends them) to the IXFR interpreter against a held copy: it returns a zone, "up to date" or
// an error, never a crash, and a zone it returns starts with the SOA.
func FuzzApplyIXFR(f *testing.F) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			f.Fatal(err)
		}
		return r
	}
	soa := func(serial string) dns.RR {
		return rr("x.test. 60 IN SOA ns.x.test. h.x.test. " + serial + " 60 60 600 60")
	}
	have := []dns.RR{soa("10"), rr("x.test. 60 IN NS ns.x.test."), rr("ns.x.test. 60 IN A 192.0.2.1"), rr("www.x.test. 60 IN A 192.0.2.2")}
	pack := func(rrs ...dns.RR) []byte {
		m := new(dns.Msg)
		m.SetQuestion("x.test.", dns.TypeIXFR)
		m.Response = true
		m.Answer = rrs
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(pack(soa("11"), soa("10"), rr("www.x.test. 60 IN A 192.0.2.2"), soa("11"), rr("www.x.test. 60 IN A 192.0.2.3"), soa("11")))
	f.Add(pack(soa("11"), rr("x.test. 60 IN NS ns.x.test."), rr("ns.x.test. 60 IN A 192.0.2.1"), soa("11")))
	f.Add(pack(soa("10")))
	f.Add(pack(soa("12"), soa("10"), soa("11"), soa("11"), soa("12"), soa("12")))
	f.Add(pack(soa("9")))
	f.Fuzz(func(t *testing.T, msg []byte) {
		var m dns.Msg
		if m.Unpack(msg) != nil {
			return
		}
		res, err := applyIXFR(have, m.Answer)
		if err != nil || res.upToDate {
			return
		}
		if len(res.rrs) == 0 || !isSOA(res.rrs[0]) {
			t.Fatalf("a zone without its SOA first: %v", res.rrs)
		}
	})
}
