package bench

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzSignedPath feeds arbitrary messages through the whole signed path (lookup, online
// signing with a real key ring, denial of existence, fitting), with no packet cache in front
// so that every input reaches the signer: nothing may panic or fail to sign (a SERVFAIL), and
// every response must parse.
func FuzzSignedPath(f *testing.F) {
	h := handler(f, true, false)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"h42.bench.test.", dns.TypeA}, {"nope.bench.test.", dns.TypeA}, {"x.wild.bench.test.", dns.TypeTXT},
		{"a.sub.bench.test.", dns.TypeA}, {"sub.bench.test.", dns.TypeDS}, {"bench.test.", dns.TypeDNSKEY},
		{"h1.bench.test.", dns.TypeMX}, {"bench.test.", dns.TypeANY},
	} {
		f.Add(packQuery(f, q.name, q.qtype, true))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := h.ServeUDP(in, make([]byte, 0, 4096))
		if out == nil {
			return
		}
		var m dns.Msg
		if err := m.Unpack(out); err != nil {
			t.Fatalf("response does not parse: %v (query %x)", err, in)
		}
		if m.Rcode == dns.RcodeServerFailure {
			t.Fatalf("SERVFAIL for %x: %v", in, &m)
		}
	})
}
