package server

import (
	"encoding/hex"
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// genZones is a ZoneSet whose generation the test moves by hand.
type genZones struct {
	*ZoneSet
	gen uint64
}

func (g *genZones) Generation() uint64 { return g.gen }

func cachedHandler(t *testing.T, size int) (*Handler, *genZones) {
	t.Helper()
	zs := NewZoneSet(quietLogger(), nil)
	for _, f := range exampleZones {
		if err := zs.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	g := &genZones{ZoneSet: zs, gen: 1}
	return NewHandler(g, nil, nil, Config{Logger: quietLogger(), PacketCacheSize: size}, nil), g
}

func pack(t *testing.T, m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unpack(t *testing.T, b []byte) *dns.Msg {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPacketCacheHitIsPatched(t *testing.T) {
	h, _ := cachedHandler(t, 0)
	q := query("www.example.test.", dns.TypeA, true)
	q.Id = 1
	first := unpack(t, h.ServeUDP(pack(t, q), nil))

	q2 := query("WWW.Example.TEST.", dns.TypeA, true)
	q2.Id = 4242
	q2.RecursionDesired, q2.CheckingDisabled = true, true
	got := unpack(t, h.ServeUDP(pack(t, q2), nil))
	if h.pcache.hits.Load() != 1 {
		t.Fatalf("hits %d, want 1", h.pcache.hits.Load())
	}
	if got.Id != 4242 || !got.RecursionDesired || !got.CheckingDisabled || got.Question[0].Name != "WWW.Example.TEST." {
		t.Fatalf("hit not patched: %v", got)
	}
	if fmt.Sprint(got.Answer) != fmt.Sprint(first.Answer) && len(got.Answer) != 1 {
		t.Fatalf("answers differ: %v vs %v", got.Answer, first.Answer)
	}
	// RD clear again: a hit must not keep the previous query's bits.
	q3 := query("www.example.test.", dns.TypeA, true)
	if r := unpack(t, h.ServeUDP(pack(t, q3), nil)); r.RecursionDesired || r.CheckingDisabled {
		t.Fatalf("RD/CD leaked from an earlier query: %v", r.MsgHdr)
	}
}

func TestPacketCacheKeyedOnWhatChangesTheAnswer(t *testing.T) {
	h, g := cachedHandler(t, 0)
	ask := func(m *dns.Msg) *dns.Msg { return unpack(t, h.ServeUDP(pack(t, m), nil)) }

	ask(query("big.example.test.", dns.TypeTXT, true))
	// Without EDNS the limit is 512, not 1232: a different entry, and no OPT in it.
	r := ask(query("big.example.test.", dns.TypeTXT, false))
	if r.IsEdns0() != nil || !r.Truncated {
		t.Fatalf("no-EDNS query answered from the EDNS entry: %v", r)
	}
	// DO is part of the key.
	q := query("www.example.test.", dns.TypeA, false)
	q.SetEdns0(1232, true)
	if r := ask(q); !r.IsEdns0().Do() {
		t.Fatal("DO query answered from a non-DO entry")
	}
	// Another type at the same name.
	if r := ask(query("www.example.test.", dns.TypeAAAA, true)); len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeAAAA {
		t.Fatalf("AAAA: %v", r)
	}
	// A new generation makes every entry unreachable.
	hits := h.pcache.hits.Load()
	g.gen++
	ask(query("www.example.test.", dns.TypeAAAA, true))
	if h.pcache.hits.Load() != hits {
		t.Fatal("entry of an old generation was served")
	}
}

func TestPacketCacheMissingNamesCannotEvict(t *testing.T) {
	h, _ := cachedHandler(t, 100)
	www := pack(t, query("www.example.test.", dns.TypeA, true))
	h.ServeUDP(www, nil)
	for i := 0; i < 5000; i++ {
		h.ServeUDP(pack(t, query(fmt.Sprintf("r%d.example.test.", i), dns.TypeA, true)), nil)
	}
	hits := h.pcache.hits.Load()
	h.ServeUDP(www, nil)
	if h.pcache.hits.Load() != hits+1 {
		t.Fatal("a flood of missing names evicted the answer for an existing name")
	}
	if h.pcache.neg.Len() != 0 || h.pcache.pos.Len() != 1 {
		t.Fatalf("after unique missing names: pos %d neg %d, want 1 and 0 (the doorkeeper)", h.pcache.pos.Len(), h.pcache.neg.Len())
	}
	// A missing name asked again is admitted on its second miss and hit on its third query.
	again := pack(t, query("again.example.test.", dns.TypeA, true))
	h.ServeUDP(again, nil)
	h.ServeUDP(again, nil)
	hits = h.pcache.hits.Load()
	h.ServeUDP(again, nil)
	if h.pcache.hits.Load() != hits+1 || h.pcache.neg.Len() != 1 {
		t.Fatalf("repeated missing name: hits %d -> %d, neg %d", hits, h.pcache.hits.Load(), h.pcache.neg.Len())
	}
}

func TestParseFastRejects(t *testing.T) {
	good := pack(t, query("www.example.test.", dns.TypeA, true))
	var q fastQuery
	if !parseFast(good, 1232, &q) {
		t.Fatal("plain EDNS query rejected")
	}
	withCookie := query("www.example.test.", dns.TypeA, true)
	withCookie.IsEdns0().Option = append(withCookie.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0123456789abcdef"})
	if !parseFast(pack(t, withCookie), 1232, &q) {
		t.Error("a query with a cookie option (ignored by Signet) took the full path")
	}
	badOption := pack(t, withCookie)
	badOption[len(badOption)-9] = 0xff // the cookie option's length now runs past the end
	version1 := query("www.example.test.", dns.TypeA, true)
	version1.IsEdns0().SetVersion(1)
	notify := query("www.example.test.", dns.TypeSOA, false)
	notify.Opcode = dns.OpcodeNotify
	for name, b := range map[string][]byte{
		"bad option": badOption,
		"version 1":  pack(t, version1),
		"opcode":     pack(t, notify),
		"trailing":   append(append([]byte(nil), good...), 0),
		"short":      good[:14],
	} {
		if parseFast(b, 1232, &q) {
			t.Errorf("%s: took the fast path", name)
		}
	}
}

// TestPacketCacheDOWithOptions is the regression test for a key that could not tell DO from
// "EDNS present": dig's DNSKEY query without DO (with a cookie, AD set) was then answered to
// delv's DO query, without RRSIGs. The bytes are the real queries, captured.
func TestPacketCacheDOWithOptions(t *testing.T) {
	noDO := mustHex(t, "eb10002000010000000000010562656e63680474657374000030000100002904d000000000000c000a0008d6d6ceec67572bc7")
	withDO := mustHex(t, "a5db01000001000000000001037777770562656e63680474657374000001000100002904d000008000000c000a00089acb4af3b4fcb3c9")
	var a, b fastQuery
	if !parseFast(noDO, 1232, &a) || !parseFast(withDO, 1232, &b) {
		t.Fatal("real dig/delv queries should take the fast path")
	}
	flagsA, flagsB := a.key[a.keyLen-3], b.key[b.keyLen-3]
	if flagsA == flagsB {
		t.Fatalf("DO and no-DO queries share the flags byte %#x", flagsA)
	}
}

func mustHex(t *testing.T, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
