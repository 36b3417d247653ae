package server

import (
	"encoding/hex"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/cookie"
	"github.com/signetdns/signet/internal/resolvertest"
	"github.com/signetdns/signet/rrl"
)

func newJar(t *testing.T) *cookie.Jar {
	t.Helper()
	j, err := cookie.New(cookie.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// cookieQuery is www.example.test. A with the COOKIE option data (hex).
func cookieQuery(data string) *dns.Msg {
	m := query("www.example.test.", dns.TypeA, true)
	o := m.IsEdns0()
	o.Option = append(o.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: data})
	return m
}

// responseCookie returns the response's COOKIE data, or "".
func responseCookie(r *dns.Msg) string {
	if o := r.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if c, ok := e.(*dns.EDNS0_COOKIE); ok {
				return c.Cookie
			}
		}
	}
	return ""
}

const clientCookie = "0102030405060708"

// TestCookies: over the real sockets, a query with a client cookie is answered with a server
// cookie made for its address (checked with the jar), over UDP and TCP, from the full path
// every time; the cookie sent back is valid; a COOKIE of a forbidden length is FORMERR; a
// query without a cookie gets none.
func TestCookies(t *testing.T) {
	t.Parallel()
	jar := newJar(t)
	ts := startServer(t, Config{Cookies: jar}, exampleZones...)
	lo := net.ParseIP("127.0.0.1")
	for _, tr := range []string{"udp", "tcp", "udp"} {
		addr := ts.udp
		if tr == "tcp" {
			addr = ts.tcp
		}
		r := exchange(t, tr, addr, cookieQuery(clientCookie))
		got := responseCookie(r)
		if len(r.Answer) == 0 || len(got) != 48 || got[:16] != clientCookie {
			t.Fatalf("%s: answer %v, cookie %q", tr, r.Answer, got)
		}
		b, _ := hex.DecodeString(got)
		if ok, _ := jar.Verify(b[:8], b[8:], addrOf(&net.UDPAddr{IP: lo}), time.Now()); !ok {
			t.Fatalf("%s: server cookie %s does not verify for 127.0.0.1", tr, got[16:])
		}
		// Sent back, it is valid, and the answer carries a cookie again.
		r = exchange(t, tr, addr, cookieQuery(got))
		if len(r.Answer) == 0 || len(responseCookie(r)) != 48 {
			t.Fatalf("%s: with the server cookie: %v", tr, r)
		}
	}
	if r := exchange(t, "udp", ts.udp, cookieQuery("01020304050607")); r.Rcode != dns.RcodeFormatError {
		t.Errorf("7-octet cookie: %s, want FORMERR", dns.RcodeToString[r.Rcode])
	}
	if r := exchange(t, "udp", ts.udp, query("www.example.test.", dns.TypeA, true)); responseCookie(r) != "" || len(r.Answer) == 0 {
		t.Errorf("no cookie asked, got %q", responseCookie(r))
	}
}

// TestCookiesBypassRRL: with RRL at 2 answers a second, a client that has only a client
// cookie gets BADCOOKIE with a server cookie when limited (never silence), and with that
// cookie every query is answered.
func TestCookiesBypassRRL(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := Config{RRL: rrl.New(rrl.Config{ResponsesPerSecond: 2}), Cookies: newJar(t), Now: func() time.Time { return now }}
	ts := startServer(t, cfg, exampleZones...)
	answered, bad := 0, 0
	var learned string
	for range 10 {
		r := exchange(t, "udp", ts.udp, cookieQuery(clientCookie))
		switch r.Rcode {
		case dns.RcodeSuccess:
			answered++
		case dns.RcodeBadCookie:
			bad++
			if len(r.Answer) != 0 || r.Truncated {
				t.Fatalf("BADCOOKIE with records or TC: %v", r)
			}
		default:
			t.Fatalf("rcode %s", dns.RcodeToString[r.Rcode])
		}
		learned = responseCookie(r)
	}
	if answered != 2 || bad != 8 || len(learned) != 48 {
		t.Fatalf("%d answered, %d BADCOOKIE (cookie %q); want 2 and 8", answered, bad, learned)
	}
	for i := range 20 {
		if r := exchange(t, "udp", ts.udp, cookieQuery(learned)); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("query %d with a valid server cookie: %v", i, r)
		}
	}
	// Without any cookie the limit holds: silence or TC, as before.
	full, _, _ := udpBurst(t, ts.udp, "www.example.test.", dns.TypeA, 4, 100*time.Millisecond)
	if full != 0 {
		t.Errorf("a client without a cookie got %d full answers past the limit", full)
	}
}

// TestCookiesRealClients: dig and kdig with +cookie get a server cookie and accept it.
func TestCookiesRealClients(t *testing.T) {
	resolvertest.RequireTool(t, "dig")
	resolvertest.RequireTool(t, "kdig")
	ts := startServer(t, Config{Cookies: newJar(t)}, exampleZones...)
	host, port, _ := net.SplitHostPort(ts.udp)
	out := resolvertest.Dig(t, "@"+host, "-p", port, "+norec", "+cookie", "www.example.test.", "A")
	m := regexp.MustCompile(`COOKIE: ([0-9a-f]{16})([0-9a-f]{32}) \(good\)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "status: NOERROR") {
		t.Fatalf("dig +cookie: no good server cookie:\n%s", out)
	}
	// dig sends the cookie back (+cookie=VALUE) and the server takes it.
	out = resolvertest.Dig(t, "@"+host, "-p", port, "+norec", "+cookie="+m[1]+m[2], "www.example.test.", "A")
	if !strings.Contains(out, "(good)") || !strings.Contains(out, "192.0.2.80") {
		t.Fatalf("dig +cookie=VALUE:\n%s", out)
	}
	out = resolvertest.Kdig(t, "@"+host, "-p", port, "+norec", "+cookie", "www.example.test.", "A")
	k := regexp.MustCompile(`COOKIE: ([0-9A-F]{48})\n`).FindStringSubmatch(out)
	if k == nil || !strings.Contains(out, "status: NOERROR") {
		t.Fatalf("kdig +cookie: no server cookie:\n%s", out)
	}
	out = resolvertest.Kdig(t, "@"+host, "-p", port, "+norec", "+cookie="+k[1], "www.example.test.", "A")
	if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "192.0.2.80") || !strings.Contains(out, "COOKIE: "+k[1][:16]) {
		t.Fatalf("kdig +cookie=VALUE:\n%s", out)
	}
}

// FuzzLimitAndCookie feeds arbitrary queries to the packet-cache path with cookies on and to
// the rate-limiting step with a limit of one answer a second, so that most inputs go through
// the cookie parsing, the cookie added to a cached answer and the BADCOOKIE rewrite: nothing
// may panic, and what is sent parses.
func FuzzLimitAndCookie(f *testing.F) {
	jar, err := cookie.New(cookie.Config{})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := NewHandler(nil, nil, nil, Config{RRL: rrl.New(rrl.Config{ResponsesPerSecond: 1}), Cookies: jar,
		Now: func() time.Time { return now }, Logger: quietLogger()}, nil)
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 53000}
	c := cookieQuery(clientCookie)
	resp := new(dns.Msg)
	resp.SetReply(c)
	resp.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "www.example.test.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 80)}}
	packed, err := resp.Pack()
	if err != nil {
		f.Fatal(err)
	}
	for _, q := range []*dns.Msg{c, cookieQuery(clientCookie + "0100000000000000aaaaaaaaaaaaaaaa"), cookieQuery("0102"), query("www.example.test.", dns.TypeA, true)} {
		b, _ := q.Pack()
		f.Add(b)
	}
	zs := NewZoneSet(quietLogger(), nil)
	for _, z := range exampleZones {
		if err := zs.Add(z); err != nil {
			f.Fatal(err)
		}
	}
	cached := NewHandler(zs, nil, nil, Config{Cookies: jar, Logger: quietLogger()}, nil)
	warm, _ := query("www.example.test.", dns.TypeA, true).Pack()
	cached.ServeUDP(warm, nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		if out := cached.cachedUDP(in, make([]byte, 0, 4096), from); out != nil {
			var m dns.Msg
			if err := m.Unpack(out); err != nil {
				t.Fatalf("cached answer %x does not parse: %v", out, err)
			}
		}
		out := h.limitUDP(from, in, append(make([]byte, 0, 4096), packed...))
		if out == nil {
			return
		}
		var m dns.Msg
		if err := m.Unpack(out); err != nil {
			t.Fatalf("sent %x, which does not parse: %v", out, err)
		}
	})
}

// TestCookieFromPacketCache: a cookie query for an answer in the packet cache is answered from
// it, with a server cookie for this client added to the copy, and the cached entry stays
// without a cookie.
func TestCookieFromPacketCache(t *testing.T) {
	jar := newJar(t)
	zs := NewZoneSet(quietLogger(), nil)
	for _, f := range exampleZones {
		if err := zs.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	h := NewHandler(zs, nil, nil, Config{Cookies: jar, Logger: quietLogger()}, nil)
	plain, _ := query("www.example.test.", dns.TypeA, true).Pack()
	if h.ServeUDP(plain, nil) == nil {
		t.Fatal("no answer")
	}
	from := &net.UDPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 5353}
	withCookie, _ := cookieQuery(clientCookie).Pack()
	hits := h.pcache.hits.Load()
	resp := h.cachedUDP(withCookie, make([]byte, 0, 4096), from)
	if resp == nil || h.pcache.hits.Load() != hits+1 {
		t.Fatal("the cookie query was not answered from the packet cache")
	}
	var r dns.Msg
	if err := r.Unpack(resp); err != nil || len(r.Answer) != 1 {
		t.Fatalf("answer %v: %v", &r, err)
	}
	b, _ := hex.DecodeString(responseCookie(&r))
	if len(b) != 24 || hex.EncodeToString(b[:8]) != clientCookie {
		t.Fatalf("cookie %x", b)
	}
	if ok, _ := jar.Verify(b[:8], b[8:], addrOf(from), time.Now()); !ok {
		t.Fatal("the added server cookie does not verify")
	}
	again := h.cachedUDP(plain, make([]byte, 0, 4096), from)
	var p dns.Msg
	if err := p.Unpack(again); err != nil || responseCookie(&p) != "" {
		t.Fatalf("the cached entry now carries a cookie: %v", &p)
	}
	// A malformed cookie takes the full path (FORMERR there).
	bad, _ := cookieQuery("0102").Pack()
	if h.cachedUDP(bad, make([]byte, 0, 4096), from) != nil {
		t.Fatal("a malformed cookie was answered from the cache")
	}
	if n := testing.AllocsPerRun(100, func() { h.cachedUDP(withCookie, resp[:0], from) }); n != 0 {
		t.Errorf("%v allocations per cached cookie answer", n)
	}
}
