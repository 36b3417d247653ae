package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

const origin = "bench.test."

// benchZone is a zone of n hosts with A, AAAA, MX and TXT, a wildcard and a delegation.
func benchZone(tb testing.TB, n int) *zones.Zone {
	var b strings.Builder
	b.WriteString("$ORIGIN bench.test.\n$TTL 3600\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n")
	b.WriteString("*.wild A 192.0.2.2\nsub NS ns.sub\nns.sub A 192.0.2.3\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "h%d A 10.0.%d.%d\nh%d AAAA 2001:db8::%x\nh%d MX 10 ns1\nh%d TXT \"host %d\"\n", i, i/256%256, i%256, i, i, i, i, i)
	}
	z, err := zones.Parse(strings.NewReader(b.String()), origin, "bench.test.zone", zones.Options{MaxTTL: zones.MaxSignedTTL})
	if err != nil {
		tb.Fatal(err)
	}
	return z
}

type fixedKeys struct {
	ring *signer.KeyRing
	mode signer.Mode
}

func (f fixedKeys) Signing(string) (*signer.KeyRing, signer.Mode, bool) { return f.ring, f.mode, true }
func (f fixedKeys) Generation() uint64                                  { return 1 }

// store is a zone store whose data never changes (generation 1), so the packet cache works.
type store struct{ *zones.Store }

func (store) Generation() uint64 { return 1 }

func newKey(tb testing.TB, flags uint16) *signer.Key {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	dk, err := signer.NewDNSKEY(origin, flags, dns.ECDSAP256SHA256, priv.Public(), 3600)
	if err != nil {
		tb.Fatal(err)
	}
	return signer.NewKey(dk, priv, true)
}

// handler is the full request path: zone store, signer with its cache, key ring.
func handler(tb testing.TB, signed, pcache bool) *server.Handler {
	return modeHandler(tb, signed, pcache, signer.Compact)
}

// modeHandler is handler with the given denial mode.
func modeHandler(tb testing.TB, signed, pcache bool, mode signer.Mode) *server.Handler {
	zs := zones.NewStore()
	zs.Set(benchZone(tb, 10000))
	cfg := server.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	var st server.ZoneSource = zs
	if pcache {
		st = store{zs}
	} else {
		cfg.PacketCacheSize = -1
	}
	if !signed {
		return server.NewHandler(st, nil, nil, cfg, nil)
	}
	scfg := signer.Config{}
	ring, err := signer.NewKeyRing(origin, []*signer.Key{newKey(tb, 257), newKey(tb, 256)}, signer.RingOptions{}, time.Now(), scfg)
	if err != nil {
		tb.Fatal(err)
	}
	return server.NewHandler(st, fixedKeys{ring: ring, mode: mode}, signer.New(scfg), cfg, nil)
}

func packQuery(tb testing.TB, name string, qtype uint16, do bool) []byte {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, do)
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func checkAnswer(tb testing.TB, resp []byte, wantRRSIG bool) {
	m := new(dns.Msg)
	if err := m.Unpack(resp); err != nil {
		tb.Fatal(err)
	}
	if m.Rcode != dns.RcodeSuccess || len(m.Answer) == 0 {
		tb.Fatalf("bad response %v", m)
	}
	has := false
	for _, rr := range m.Answer {
		has = has || rr.Header().Rrtype == dns.TypeRRSIG
	}
	if has != wantRRSIG {
		tb.Fatalf("RRSIG present=%v, want %v: %v", has, wantRRSIG, m)
	}
}

// benchRepeat answers the same question again and again, after checking the first answer.
func benchRepeat(b *testing.B, h *server.Handler, do bool) {
	q := packQuery(b, "h42.bench.test.", dns.TypeA, do)
	out := make([]byte, 0, 65535)
	checkAnswer(b, h.ServeUDP(q, out), do)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeUDP(q, out[:0])
	}
}

// BenchmarkSignedHit is a signed answer whose response is in the packet cache, request bytes
// to response bytes.
func BenchmarkSignedHit(b *testing.B) { benchRepeat(b, handler(b, true, true), true) }

// BenchmarkSignedSigCacheHit is the same without the packet cache: the full path with the
// signature cache hit (unpack, lookup, sign from cache, pack).
func BenchmarkSignedSigCacheHit(b *testing.B) { benchRepeat(b, handler(b, true, false), true) }

// BenchmarkUnsigned is the same question without DO.
func BenchmarkUnsigned(b *testing.B) { benchRepeat(b, handler(b, true, true), false) }

// BenchmarkSignedMissing asks for a new random missing name each time: one NSEC signature
// per answer (the SOA's is cached).
func BenchmarkSignedMissing(b *testing.B) { benchMissing(b, handler(b, true, true)) }

// BenchmarkNSECMissing is BenchmarkSignedMissing in NSEC mode: the denial comes from the
// zone's chain, whose links are signed once (by a warm-up with other names), so no answer
// needs a fresh signature.
func BenchmarkNSECMissing(b *testing.B) {
	benchMissing(b, warm(b, modeHandler(b, true, true, signer.NSEC)))
}

// BenchmarkNSEC3Missing is the same in NSEC3 mode.
func BenchmarkNSEC3Missing(b *testing.B) {
	benchMissing(b, warm(b, modeHandler(b, true, true, signer.NSEC3)))
}

// warm asks for enough missing names, none of which the benchmarks ask, that every link of
// the zone's chain is likely signed.
func warm(b *testing.B, h *server.Handler) *server.Handler {
	out := make([]byte, 0, 65535)
	for i := range 1 << 17 {
		h.ServeUDP(packQuery(b, fmt.Sprintf("w%08x.bench.test.", i), dns.TypeA, true), out[:0])
	}
	return h
}

func benchMissing(b *testing.B, h *server.Handler) {
	out := make([]byte, 0, 65535)
	qs := make([][]byte, 0, 1<<16)
	for i := 0; i < cap(qs); i++ {
		qs = append(qs, packQuery(b, fmt.Sprintf("m%08x.bench.test.", i), dns.TypeA, true))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.ServeUDP(qs[i%len(qs)], out[:0])
		i++
	}
}

// BenchmarkLookup is the zone lookup alone.
func BenchmarkLookup(b *testing.B) {
	z := benchZone(b, 10000)
	b.ReportAllocs()
	for b.Loop() {
		z.Lookup("h42.bench.test.", dns.TypeA)
	}
}
