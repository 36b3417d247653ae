package bench

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
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

// signOnly hides the signer's prepared denials: a handler with it answers through Sign alone.
type signOnly struct{ s *signer.Signer }

func (o signOnly) Sign(m *dns.Msg, in *signer.Input, r *signer.KeyRing, now time.Time) error {
	return o.s.Sign(m, in, r, now)
}

// FuzzPreparedDenial feeds arbitrary messages to two handlers of the same zone, keys and signer
// in NSEC and then NSEC3 mode: one with the packet cache and the prepared chain denials in
// front, one answering everything through Sign. Whatever path the first takes, both answers
// must parse and say the same (header, every record in order).
func FuzzPreparedDenial(f *testing.F) {
	type pair struct{ prep, full *server.Handler }
	var pairs []pair
	for _, mode := range []signer.Mode{signer.NSEC, signer.NSEC3} {
		zs := zones.NewStore()
		zs.Set(benchZone(f, 1000))
		scfg := signer.Config{}
		ring, err := signer.NewKeyRing(origin, []*signer.Key{newKey(f, 257), newKey(f, 256)}, signer.RingOptions{}, time.Now(), scfg)
		if err != nil {
			f.Fatal(err)
		}
		s := signer.New(scfg)
		keys := fixedKeys{ring: ring, mode: mode}
		cfg := server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		p := pair{prep: server.NewHandler(store{zs}, keys, s, cfg, nil)}
		cfg.PacketCacheSize = -1
		p.full = server.NewHandler(zs, keys, signOnly{s}, cfg, nil)
		// Sign a share of the chain's links, so that many inputs find theirs prepared.
		for i := range 300 {
			p.full.ServeUDP(packQuery(f, fmt.Sprintf("warm%d.bench.test.", i), dns.TypeA, true), nil)
		}
		pairs = append(pairs, p)
	}
	for _, name := range []string{"nope.bench.test.", "x.h1.bench.test.", "Nope.bench.test.", "nope.BENCH.test.", "a.b.c.bench.test.", "zzzz.bench.test."} {
		f.Add(packQuery(f, name, dns.TypeA, true))
	}
	f.Add(packQuery(f, "x.wild.bench.test.", dns.TypeTXT, true))
	f.Add(packQuery(f, "nope.bench.test.", dns.TypeA, false))
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, p := range pairs {
			// Twice: the second ask of a missing name finds its links signed by the first.
			var got, want []byte
			for range 2 {
				got = p.prep.ServeUDP(in, make([]byte, 0, 4096))
				want = p.full.ServeUDP(in, make([]byte, 0, 4096))
			}
			if (got == nil) != (want == nil) {
				t.Fatalf("one handler silent: prepared %x, full %x (query %x)", got, want, in)
			}
			if got == nil {
				continue
			}
			var g, w dns.Msg
			if err := g.Unpack(got); err != nil {
				t.Fatalf("response does not parse: %v (query %x)", err, in)
			}
			if err := w.Unpack(want); err != nil {
				t.Fatalf("full-path response does not parse: %v (query %x)", err, in)
			}
			gs, ws := g.String(), w.String()
			if bytes.ContainsFunc(in, unicode.IsUpper) {
				// A packet-cache hit carries the question as this query spelt it, and the
				// names compressed against it take that spelling: equal but for case.
				gs, ws = strings.ToLower(gs), strings.ToLower(ws)
			}
			if gs != ws {
				t.Fatalf("answers differ for query %x:\nprepared path:\n%v\nfull path:\n%v", in, &g, &w)
			}
		}
	})
}
