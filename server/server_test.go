package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testServer serves the given zones (origin -> file) on loopback with a random port.
type testServer struct {
	srv  *Server
	zs   *ZoneSet
	udp  string
	tcp  string
	addr []string
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startServer(t *testing.T, cfg Config, files ...ZoneFile) *testServer {
	t.Helper()
	if len(cfg.Listen) == 0 {
		cfg.Listen = []string{"127.0.0.1:0"}
	}
	cfg.Logger = quietLogger()
	zs := NewZoneSet(cfg.Logger, nil)
	for _, f := range files {
		if err := zs.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	return serveZoneSet(t, cfg, zs)
}

// serveZoneSet serves zs on cfg.Listen until the test ends.
func serveZoneSet(t *testing.T, cfg Config, zs *ZoneSet) *testServer {
	t.Helper()
	h := NewHandler(zs, nil, nil, cfg, nil)
	srv := New(h, cfg)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	ts := &testServer{srv: srv, zs: zs}
	for _, a := range srv.UDPAddrs() {
		ts.addr = append(ts.addr, a.String())
	}
	ts.udp = srv.UDPAddrs()[0].String()
	ts.tcp = srv.TCPAddrs()[0].String()
	return ts
}

var exampleZones = []ZoneFile{
	{Origin: "example.test.", Path: "../testdata/example.test.zone"},
	{Origin: "signed.example.test.", Path: "../testdata/signed.example.test.zone"},
}

func query(name string, qtype uint16, edns bool) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = false
	if edns {
		m.SetEdns0(1232, false)
	}
	return m
}

func exchange(t *testing.T, net, addr string, m *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: net, Timeout: 3 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", net, m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], err)
	}
	return r
}

func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, rr.String())
	}
	return out
}

func TestServeEndToEnd(t *testing.T) {
	ts := startServer(t, Config{Listen: []string{"127.0.0.1:0", "[::1]:0"}}, exampleZones...)
	tests := []struct {
		name     string
		qname    string
		qtype    uint16
		rcode    int
		aa       bool
		answer   int
		contains string // a substring of some answer/authority record
	}{
		{"exact A", "www.example.test.", dns.TypeA, dns.RcodeSuccess, true, 1, "192.0.2.80"},
		{"cname chain", "alias.example.test.", dns.TypeA, dns.RcodeSuccess, true, 3, "192.0.2.80"},
		{"nxdomain", "nope.example.test.", dns.TypeA, dns.RcodeNameError, true, 0, "SOA"},
		{"nodata", "www.example.test.", dns.TypeMX, dns.RcodeSuccess, true, 0, "SOA"},
		{"ent is nodata", "b.ent.example.test.", dns.TypeA, dns.RcodeSuccess, true, 0, "SOA"},
		{"wildcard", "x.wild.example.test.", dns.TypeA, dns.RcodeSuccess, true, 1, "192.0.2.99"},
		{"referral", "www.unsigned.example.test.", dns.TypeA, dns.RcodeSuccess, false, 0, "ns1.example.net."},
		{"child zone wins", "www.signed.example.test.", dns.TypeA, dns.RcodeSuccess, true, 1, "192.0.2.161"},
		{"DS from parent", "signed.example.test.", dns.TypeDS, dns.RcodeSuccess, true, 1, "12345"},
		{"outside every zone", "www.example.org.", dns.TypeA, dns.RcodeRefused, false, 0, ""},
		{"AXFR refused", "example.test.", dns.TypeAXFR, dns.RcodeRefused, false, 0, ""},
		{"ANY minimal", "www.example.test.", dns.TypeANY, dns.RcodeSuccess, true, 1, ""},
		{"NXNAME formerr", "www.example.test.", 128, dns.RcodeFormatError, false, 0, ""},
	}
	for _, addr := range ts.addr {
		for _, proto := range []string{"udp", "tcp"} {
			for _, tc := range tests {
				t.Run(proto+"/"+addr+"/"+tc.name, func(t *testing.T) {
					r := exchange(t, proto, addr, query(tc.qname, tc.qtype, true))
					if r.Rcode != tc.rcode {
						t.Fatalf("rcode %s, want %s\n%s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
					}
					if r.Authoritative != tc.aa {
						t.Errorf("AA=%v, want %v", r.Authoritative, tc.aa)
					}
					if len(r.Answer) != tc.answer {
						t.Errorf("%d answers, want %d\n%s", len(r.Answer), tc.answer, r)
					}
					all := strings.Join(append(rrStrings(r.Answer), rrStrings(r.Ns)...), "\n")
					if tc.contains != "" && !strings.Contains(all, tc.contains) {
						t.Errorf("response lacks %q:\n%s", tc.contains, r)
					}
					if r.Rcode != dns.RcodeFormatError && r.IsEdns0() == nil {
						t.Errorf("no OPT echoed")
					}
				})
			}
		}
	}
}

func TestEDNSAndFlags(t *testing.T) {
	ts := startServer(t, Config{}, exampleZones...)

	t.Run("advertises 1232 and echoes DO", func(t *testing.T) {
		q := query("www.example.test.", dns.TypeA, false)
		q.SetEdns0(4096, true)
		r := exchange(t, "udp", ts.udp, q)
		opt := r.IsEdns0()
		if opt == nil || opt.UDPSize() != 1232 || !opt.Do() || opt.Version() != 0 {
			t.Fatalf("OPT %v", opt)
		}
	})
	t.Run("no EDNS, no OPT", func(t *testing.T) {
		r := exchange(t, "udp", ts.udp, query("www.example.test.", dns.TypeA, false))
		if r.IsEdns0() != nil {
			t.Fatal("OPT in answer to a query without one")
		}
	})
	t.Run("BADVERS", func(t *testing.T) {
		q := query("www.example.test.", dns.TypeA, true)
		q.IsEdns0().SetVersion(1)
		r := exchange(t, "udp", ts.udp, q)
		if r.Rcode != dns.RcodeBadVers || len(r.Answer) != 0 || r.IsEdns0() == nil {
			t.Fatalf("got %s", r)
		}
	})
	t.Run("two OPT is FORMERR", func(t *testing.T) {
		q := query("www.example.test.", dns.TypeA, true)
		q.Extra = append(q.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 512}})
		r := exchange(t, "udp", ts.udp, q)
		if r.Rcode != dns.RcodeFormatError {
			t.Fatalf("rcode %s", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("NOTIMP for opcode", func(t *testing.T) {
		q := query("example.test.", dns.TypeSOA, false)
		q.Opcode = dns.OpcodeStatus
		r := exchange(t, "udp", ts.udp, q)
		if r.Rcode != dns.RcodeNotImplemented {
			t.Fatalf("rcode %s", dns.RcodeToString[r.Rcode])
		}
	})
	t.Run("0x20 question echoed", func(t *testing.T) {
		r := exchange(t, "udp", ts.udp, query("WwW.ExAmPlE.TeSt.", dns.TypeA, true))
		if r.Question[0].Name != "WwW.ExAmPlE.TeSt." || len(r.Answer) != 1 {
			t.Fatalf("got %s", r)
		}
	})
	t.Run("RD and CD copied", func(t *testing.T) {
		q := query("www.example.test.", dns.TypeA, true)
		q.RecursionDesired, q.CheckingDisabled = true, true
		r := exchange(t, "udp", ts.udp, q)
		if !r.RecursionDesired || !r.CheckingDisabled || r.RecursionAvailable {
			t.Fatalf("flags %s", r.MsgHdr.String())
		}
	})
	t.Run("CHAOS off by default", func(t *testing.T) {
		q := query("version.bind.", dns.TypeTXT, false)
		q.Question[0].Qclass = dns.ClassCHAOS
		if r := exchange(t, "udp", ts.udp, q); r.Rcode != dns.RcodeRefused {
			t.Fatalf("rcode %s", dns.RcodeToString[r.Rcode])
		}
	})
}

func TestChaosConfigured(t *testing.T) {
	ts := startServer(t, Config{ChaosVersion: "signet test", ChaosID: "ns-a"}, exampleZones...)
	for name, want := range map[string]string{"version.bind.": "signet test", "id.server.": "ns-a"} {
		q := query(name, dns.TypeTXT, false)
		q.Question[0].Qclass = dns.ClassCHAOS
		r := exchange(t, "udp", ts.udp, q)
		if len(r.Answer) != 1 || r.Answer[0].(*dns.TXT).Txt[0] != want {
			t.Fatalf("%s: %v", name, r)
		}
	}
}

func TestTruncationAndTCP(t *testing.T) {
	ts := startServer(t, Config{}, exampleZones...)
	r := exchange(t, "udp", ts.udp, query("big.example.test.", dns.TypeTXT, true))
	if !r.Truncated || len(r.Answer) != 0 {
		t.Fatalf("UDP: TC=%v with %d answers", r.Truncated, len(r.Answer))
	}
	r = exchange(t, "udp", ts.udp, query("big.example.test.", dns.TypeTXT, false))
	if !r.Truncated {
		t.Fatal("512-byte client: not truncated")
	}
	r = exchange(t, "tcp", ts.tcp, query("big.example.test.", dns.TypeTXT, true))
	if r.Truncated || len(r.Answer) != 40 {
		t.Fatalf("TCP: TC=%v with %d answers", r.Truncated, len(r.Answer))
	}
}

// TestTCPPipelining sends several queries on one connection before reading any answer
// (RFC 7766 §6.2.1.1).
func TestTCPPipelining(t *testing.T) {
	ts := startServer(t, Config{}, exampleZones...)
	conn, err := dns.Dial("tcp", ts.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	names := []string{"www.example.test.", "mail.example.test.", "ns1.example.test.", "sip.example.test."}
	ids := map[uint16]string{}
	for _, n := range names {
		q := query(n, dns.TypeA, true)
		ids[q.Id] = n
		if err := conn.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	for range names {
		r, err := conn.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		want, ok := ids[r.Id]
		if !ok || r.Question[0].Name != want || len(r.Answer) != 1 {
			t.Fatalf("unexpected answer %v", r)
		}
		delete(ids, r.Id)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	ts := startServer(t, Config{TCPIdleTimeout: 200 * time.Millisecond, TCPReadTimeout: 200 * time.Millisecond}, exampleZones...)
	c, err := net.Dial("tcp", ts.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The server closes an idle connection after the timeout: a read sees EOF, not our deadline.
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("idle connection not closed by the server (err %v after %s)", err, time.Since(start))
	}
}

func TestTCPConnectionCap(t *testing.T) {
	ts := startServer(t, Config{MaxTCPConns: 1, TCPReadTimeout: 5 * time.Second, TCPIdleTimeout: 5 * time.Second}, exampleZones...)
	hog, err := net.Dial("tcp", ts.tcp)
	if err != nil {
		t.Fatal(err)
	}
	// Make sure the server has accepted the first connection before the second arrives.
	hc := &dns.Conn{Conn: hog}
	if err := hc.WriteMsg(query("www.example.test.", dns.TypeA, false)); err != nil {
		t.Fatal(err)
	}
	if _, err := hc.ReadMsg(); err != nil {
		t.Fatal(err)
	}
	c := &dns.Client{Net: "tcp", Timeout: 300 * time.Millisecond}
	if _, _, err := c.Exchange(query("www.example.test.", dns.TypeA, false), ts.tcp); err == nil {
		t.Fatal("a second connection was served while the cap of 1 was in use")
	}
	hog.Close()
	c.Timeout = 3 * time.Second
	if r, _, err := c.Exchange(query("www.example.test.", dns.TypeA, false), ts.tcp); err != nil || len(r.Answer) != 1 {
		t.Fatalf("after the first connection closed: %v %v", r, err)
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "reload.test.zone")
	write := func(body string) {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const head = "$ORIGIN reload.test.\n$TTL 300\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n"
	write(head + "www A 192.0.2.10\n")
	ts := startServer(t, Config{}, ZoneFile{Origin: "reload.test.", Path: path})

	answer := func() string {
		r := exchange(t, "udp", ts.udp, query("www.reload.test.", dns.TypeA, false))
		if len(r.Answer) != 1 {
			t.Fatalf("no answer: %v", r)
		}
		return r.Answer[0].(*dns.A).A.String()
	}
	if got := answer(); got != "192.0.2.10" {
		t.Fatalf("initial %s", got)
	}
	write(head + "www A 192.0.2.20\n")
	if err := ts.zs.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := answer(); got != "192.0.2.20" {
		t.Fatalf("after good reload %s", got)
	}
	write(head + "www A 192.0.2.30\nbroken IN A not-an-address\n")
	err := ts.zs.Reload()
	if err == nil || !strings.Contains(err.Error(), "reload.test.zone") || !strings.Contains(err.Error(), ":7") {
		t.Fatalf("broken reload error %v should name the file and line 7", err)
	}
	if got := answer(); got != "192.0.2.20" {
		t.Fatalf("after broken reload %s, want the old answer", got)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "load.test.zone")
	zone := func(n int) string {
		var b strings.Builder
		b.WriteString("$ORIGIN load.test.\n$TTL 300\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n")
		for i := 0; i < 200; i++ {
			b.WriteString("h")
			b.WriteString(strings.Repeat("x", i%5))
			b.WriteString(" A 192.0.2.")
			b.WriteString([]string{"1", "2"}[n%2])
			b.WriteString("\n")
		}
		return b.String()
	}
	os.WriteFile(path, []byte(zone(0)), 0o644)
	ts := startServer(t, Config{}, ZoneFile{Origin: "load.test.", Path: path})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			for n := 0; n < 2000 && ctx.Err() == nil; n++ {
				r, _, err := c.Exchange(query("ns1.load.test.", dns.TypeA, false), ts.udp)
				if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
					select {
					case errs <- "bad answer during reload":
					default:
					}
					return
				}
			}
		}()
	}
	for i := 1; ctx.Err() == nil && i < 40; i++ {
		os.WriteFile(path, []byte(zone(i)), 0o644)
		if err := ts.zs.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

func TestShutdownWhileIdle(t *testing.T) {
	ts := startServer(t, Config{}, exampleZones...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("shutdown took %s", time.Since(start))
	}
	c := &dns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
	if _, _, err := c.Exchange(query("www.example.test.", dns.TypeA, false), ts.udp); err == nil {
		t.Fatal("server still answers after shutdown")
	}
}

// TestPortTakenFails: a second server on a port already served must fail to start, not
// silently share the port's queries through SO_REUSEPORT.
func TestPortTakenFails(t *testing.T) {
	ts := startServer(t, Config{}, exampleZones...)
	zs := NewZoneSet(quietLogger(), nil)
	cfg := Config{Listen: []string{ts.udp}, Logger: quietLogger()}
	srv := New(NewHandler(zs, nil, nil, cfg, nil), cfg)
	if err := srv.Start(); err == nil {
		srv.Shutdown(t.Context())
		t.Fatal("a second server started on a port already in use")
	}
	// The first one still answers everything.
	for i := 0; i < 20; i++ {
		if r := exchange(t, "udp", ts.udp, query("www.example.test.", dns.TypeA, false)); len(r.Answer) != 1 {
			t.Fatalf("answer %d: %v", i, r)
		}
	}
}
