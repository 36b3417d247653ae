package xfr

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// bigZone is a zone of n A records; the first changed ones differ from the other versions'.
func bigZone(n int, serial uint32, changed int) []dns.RR {
	rrs := []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "big.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300},
		Ns: "ns.big.test.", Mbox: "h.big.test.", Serial: serial, Refresh: 60, Retry: 60, Expire: 600, Minttl: 60}}
	for i := 0; i < n; i++ {
		a := &dns.A{Hdr: dns.RR_Header{Name: fmt.Sprintf("h%d.big.test.", i), Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300}}
		a.A = []byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		if i < changed {
			a.A[0] = 11
		}
		rrs = append(rrs, a)
	}
	return rrs
}

// BenchmarkDifference100k: the difference between two versions of a 100,000-record zone, ten
// records changed, as Publish computes it for IXFR.
func BenchmarkDifference100k(b *testing.B) {
	old, new := bigZone(100000, 1, 0), bigZone(100000, 2, 10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		del, add := difference(old[1:], new[1:])
		if len(del) != 10 || len(add) != 10 {
			b.Fatal(len(del), len(add))
		}
	}
}

// TestDifference: records compare whole (TTL and RDATA included), owner names in any case.
func TestDifference(t *testing.T) {
	old := []dns.RR{
		mustRR(t, "a.sec.test. 300 IN A 192.0.2.1"),
		mustRR(t, "B.sec.test. 300 IN TXT \"same\""),
		mustRR(t, "c.sec.test. 300 IN MX 10 mail.sec.test."),
		mustRR(t, "d.sec.test. 300 IN A 192.0.2.4"),
		mustRR(t, "e.sec.test. 300 IN TXT \"Case\""),
	}
	new := []dns.RR{
		mustRR(t, "a.sec.test. 600 IN A 192.0.2.1"),  // TTL changed
		mustRR(t, "b.SEC.test. 300 IN TXT \"same\""), // owner case only: the same
		mustRR(t, "c.sec.test. 300 IN MX 20 mail.sec.test."),
		mustRR(t, "e.sec.test. 300 IN TXT \"case\""), // RDATA case: another record
		mustRR(t, "f.sec.test. 300 IN AAAA 2001:db8::6"),
	}
	del, add := difference(old, new)
	text := func(rrs []dns.RR) (out []string) {
		for _, rr := range rrs {
			out = append(out, rr.String())
		}
		return out
	}
	wantDel := text([]dns.RR{old[0], old[2], old[3], old[4]})
	wantAdd := text([]dns.RR{new[0], new[2], new[3], new[4]})
	if got := text(del); !slices.Equal(got, wantDel) {
		t.Errorf("deleted %q, want %q", got, wantDel)
	}
	if got := text(add); !slices.Equal(got, wantAdd) {
		t.Errorf("added %q, want %q", got, wantAdd)
	}
	// A 100,000-record zone, the size where comparing records as text took over a second:
	// the changed records found, the time logged.
	start := time.Now()
	if del, add := difference(bigZone(100000, 1, 0)[1:], bigZone(100000, 2, 3)[1:]); len(del) != 3 || len(add) != 3 {
		t.Errorf("big zone: %d deleted, %d added, want 3 and 3", len(del), len(add))
	}
	t.Logf("difference of two 100,000-record versions (zones built included): %v", time.Since(start))
}

// TestSameRecords: records parsed apart but equal are the same; a TTL or RDATA change, or
// another order, is not.
func TestSameRecords(t *testing.T) {
	parse := func(lines ...string) (out []dns.RR) {
		for _, l := range lines {
			out = append(out, mustRR(t, l))
		}
		return out
	}
	a := parse("a.sec.test. 300 IN A 192.0.2.1", "b.sec.test. 300 IN TXT \"x\"")
	for _, c := range []struct {
		b    []dns.RR
		same bool
	}{
		{parse("a.sec.test. 300 IN A 192.0.2.1", "B.sec.test. 300 IN TXT \"x\""), true},
		{parse("a.sec.test. 301 IN A 192.0.2.1", "b.sec.test. 300 IN TXT \"x\""), false},
		{parse("a.sec.test. 300 IN A 192.0.2.1", "b.sec.test. 300 IN TXT \"X\""), false},
		{parse("b.sec.test. 300 IN TXT \"x\"", "a.sec.test. 300 IN A 192.0.2.1"), false},
		{parse("a.sec.test. 300 IN A 192.0.2.1"), false},
	} {
		if got := sameRecords(a, c.b); got != c.same {
			t.Errorf("sameRecords(%v, %v) = %v, want %v", a, c.b, got, c.same)
		}
	}
}
