package resolvertest_test

import (
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signetdns/signet/internal/resolvertest"
	"github.com/signetdns/signet/internal/resolvertest/authtest"

	"github.com/miekg/dns"
)

var zoneText = `
@    3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@    3600 IN NS  ns1
ns1  3600 IN A   127.0.0.1
www  300  IN A   192.0.2.1
` + bigTXT

// bigTXT is an RRset of about 1,700 bytes, over the 1232-byte EDNS size both unbound and
// authtest use, so fetching it exercises truncation and the TCP retry on each hop.
var bigTXT = strings.Repeat("big 300 IN TXT \""+strings.Repeat("x", 200)+"\"\n", 8)

// signedServer signs zoneText with a fresh key, serves it on loopback and returns the
// zone and its address.
func signedServer(t *testing.T) (*authtest.Zone, string) {
	t.Helper()
	// Unbound validates against the real clock, so this zone must be signed at time.Now.
	z, err := authtest.Sign("example.test.", zoneText, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return z, authtest.Serve(t, z)
}

// wrongDS is z's DS with one digest octet changed: same key tag and algorithm, so the
// validator finds the key and must reject it on the digest alone.
func wrongDS(z *authtest.Zone) *dns.DS {
	ds := *z.DS
	flip := "0"
	if ds.Digest[0] == '0' {
		flip = "1"
	}
	ds.Digest = flip + ds.Digest[1:]
	return &ds
}

func aRecords(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

func TestUnboundValidates(t *testing.T) {
	z, addr := signedServer(t)
	tests := []struct {
		name   string
		anchor dns.RR
		qname  string
		qtype  uint16
		rcode  int
		ad     bool
		want   []string // A records expected in the answer
		count  int      // for other types, how many records of qtype the answer holds
	}{
		{name: "DS anchor, positive", anchor: z.DS, qname: "www.example.test.", qtype: dns.TypeA,
			ad: true, want: []string{"192.0.2.1"}},
		{name: "DNSKEY anchor, positive", anchor: z.DNSKEY, qname: "www.example.test.", qtype: dns.TypeA,
			ad: true, want: []string{"192.0.2.1"}},
		{name: "DS anchor, NXDOMAIN", anchor: z.DS, qname: "nope.example.test.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ad: true},
		{name: "DS anchor, NODATA", anchor: z.DS, qname: "www.example.test.", qtype: dns.TypeAAAA, ad: true},
		{name: "wrong DS", anchor: wrongDS(z), qname: "www.example.test.", qtype: dns.TypeA,
			rcode: dns.RcodeServerFailure},
		{name: "answer too large for UDP", anchor: z.DS, qname: "big.example.test.", qtype: dns.TypeTXT,
			ad: true, count: 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			u := resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
				Stubs:   map[string]string{"example.test.": addr},
				Anchors: []string{tc.anchor.String()},
			})
			r := u.Query(t, tc.qname, tc.qtype)
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
			}
			if r.AuthenticatedData != tc.ad {
				t.Errorf("AD=%v, want %v\n%v", r.AuthenticatedData, tc.ad, r)
			}
			if got := aRecords(r.Answer); !slices.Equal(got, tc.want) {
				t.Errorf("A records %v, want %v", got, tc.want)
			}
			if tc.count > 0 {
				if n := len(slices.DeleteFunc(slices.Clone(r.Answer), func(rr dns.RR) bool { return rr.Header().Rrtype != tc.qtype })); n != tc.count {
					t.Errorf("%d %s records, want %d\n%v", n, dns.TypeToString[tc.qtype], tc.count, r)
				}
			}
			if tc.rcode == dns.RcodeServerFailure {
				// val-log-level 2 must put the reason in the log, or failures are opaque.
				if log := u.Log(t); !strings.Contains(log, "validation failure <www.example.test. A IN>: DS hash mismatches key") {
					t.Errorf("unbound log lacks the validation failure:\n%s", log)
				}
			}
		})
	}
}

func TestUnboundFlush(t *testing.T) {
	z1, err := authtest.Sign("example.test.", zoneText, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	z2, err := authtest.SignWith("example.test.", strings.ReplaceAll(zoneText, "192.0.2.1", "192.0.2.2"), time.Now(), z1.DNSKEY, z1.Signer)
	if err != nil {
		t.Fatal(err)
	}
	live := authtest.NewLive(z1)
	addr := authtest.Serve(t, live)
	u := resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
		Stubs:   map[string]string{"example.test.": addr},
		Anchors: []string{z1.DS.String()},
	})
	query := func(step string, want string) {
		t.Helper()
		r := u.Query(t, "www.example.test.", dns.TypeA)
		if got := aRecords(r.Answer); !r.AuthenticatedData || !slices.Equal(got, []string{want}) {
			t.Fatalf("%s: AD=%v A=%v, want AD=true A=[%s]\n%v", step, r.AuthenticatedData, got, want, r)
		}
	}
	query("before the change", "192.0.2.1")
	live.Store(z2)
	// The old answer is still cached (TTL 300), which is what makes Flush necessary.
	query("cached", "192.0.2.1")
	u.Flush(t)
	query("after Flush", "192.0.2.2")
}

func TestUnboundConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  resolvertest.UnboundConfig
		want string
	}{
		{"unknown option", resolvertest.UnboundConfig{Extra: "no-such-option: yes"}, "unbound-checkconf"},
		{"bad stub address", resolvertest.UnboundConfig{Stubs: map[string]string{"example.test.": "127.0.0.1:x:y"}}, "stub zone example.test."},
		{"empty stub", resolvertest.UnboundConfig{Stubs: map[string]string{"example.test.": " "}}, "no address"},
		{"bad anchor", resolvertest.UnboundConfig{Anchors: []string{"example.test. IN DS nonsense"}}, "error reading trust-anchor-file"},
		// unbound-checkconf accepts this; unbound then cannot bind a non-local address.
		{"unbound exits", resolvertest.UnboundConfig{Extra: "interface: 192.0.2.1"}, "exited before answering"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := runFake(t, func(tb testing.TB) { resolvertest.StartUnbound(tb, tc.cfg) })
			if !strings.Contains(rec.fatal, tc.want) {
				t.Fatalf("StartUnbound failure %q, want one containing %q", rec.fatal, tc.want)
			}
		})
	}
}

// TestUnboundPortTaken pins unbound to a port the test holds, so every start fails to
// bind: StartUnbound must retry (three attempts) and then fail with the bind error.
func TestUnboundPortTaken(t *testing.T) {
	_, ln := resolvertest.Listen(t, "127.0.0.1")
	port := ln.Addr().(*net.TCPAddr).Port
	rec := runFake(t, func(tb testing.TB) {
		resolvertest.StartUnbound(tb, resolvertest.UnboundConfig{Extra: "port: " + strconv.Itoa(port)})
	})
	if !strings.Contains(rec.fatal, "exited before answering") {
		t.Fatalf("StartUnbound failure %q, want an early exit", rec.fatal)
	}
	if n := strings.Count(strings.ToLower(rec.fatal), "address already in use"); n != 3 {
		t.Errorf("%d bind failures logged, want 3 attempts:\n%s", n, rec.fatal)
	}
}

func TestDelv(t *testing.T) {
	z, addr := signedServer(t)
	tests := []struct {
		name      string
		anchors   []dns.RR
		qname     string
		qtype     string
		validated bool
		output    string // a line delv must print
	}{
		{"DS anchor", []dns.RR{z.DS}, "www.example.test", "A", true, "192.0.2.1"},
		{"DNSKEY anchor", []dns.RR{z.DNSKEY}, "www.example.test", "A", true, "192.0.2.1"},
		{"wrong and right DS", []dns.RR{wrongDS(z), z.DS}, "www.example.test", "A", true, "192.0.2.1"},
		{"NXDOMAIN", []dns.RR{z.DS}, "nope.example.test", "A", true, "NXDOMAIN"},
		{"NODATA", []dns.RR{z.DS}, "www.example.test", "AAAA", true, "NXRRSET"},
		{"wrong DS", []dns.RR{wrongDS(z)}, "www.example.test", "A", false, "broken trust chain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, validated := resolvertest.Delv(t, addr, tc.anchors, tc.qname, tc.qtype)
			if validated != tc.validated {
				t.Errorf("validated=%v, want %v", validated, tc.validated)
			}
			if !strings.Contains(out, tc.output) {
				t.Errorf("output lacks %q", tc.output)
			}
			if t.Failed() {
				t.Logf("delv output:\n%s", out)
			}
		})
	}
}

func TestParseAnchors(t *testing.T) {
	z, addr := signedServer(t)
	// The shape of `signet ds ZONE --format zone` output, plus a comment.
	text := "; example.test. trust anchor\n" + z.DS.String() + "\n"
	anchors := resolvertest.ParseAnchors(t, text)
	if len(anchors) != 1 || anchors[0].String() != z.DS.String() {
		t.Fatalf("ParseAnchors = %v, want [%v]", anchors, z.DS)
	}
	if out, ok := resolvertest.Delv(t, addr, anchors, "www.example.test", "A"); !ok {
		t.Errorf("not validated with parsed anchor:\n%s", out)
	}
	for _, bad := range []string{"", "www.example.test. 300 IN A 192.0.2.1", "example.test. IN DS 1 2"} {
		rec := runFake(t, func(tb testing.TB) { resolvertest.ParseAnchors(tb, bad) })
		if !strings.Contains(rec.fatal, "ParseAnchors") {
			t.Errorf("ParseAnchors(%q) did not fail the test", bad)
		}
	}
}

func TestDigKdig(t *testing.T) {
	_, addr := signedServer(t)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func(testing.TB, ...string) string
		args []string
		want []string
	}{
		{"dig", resolvertest.Dig, []string{"@" + host, "-p", port, "+norec", "+dnssec", "www.example.test", "A"},
			[]string{"flags: qr aa;", "192.0.2.1", "RRSIG\tA 13 3 300"}},
		{"dig +tcp", resolvertest.Dig, []string{"@" + host, "-p", port, "+norec", "+tcp", "+short", "www.example.test", "A"},
			[]string{"192.0.2.1"}},
		{"kdig", resolvertest.Kdig, []string{"@" + host, "-p", port, "+norec", "+dnssec", "nope.example.test", "A"},
			[]string{"status: NXDOMAIN", "NSEC"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.run(t, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("dig failure fails the test", func(t *testing.T) {
		// Nothing answers on a port just freed, so dig exits 9.
		free := strconv.Itoa(resolvertest.FreePort(t, "127.0.0.1"))
		rec := runFake(t, func(tb testing.TB) { resolvertest.Dig(tb, "@127.0.0.1", "-p", free, "+tries=1", "+time=1", "x.test") })
		if !strings.Contains(rec.fatal, "exit status 9") {
			t.Fatalf("Dig failure %q, want exit status 9", rec.fatal)
		}
	})
}

func TestFreePort(t *testing.T) {
	for range 5 {
		port := resolvertest.FreePort(t, "127.0.0.1")
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatalf("udp %s: %v", addr, err)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("tcp %s: %v", addr, err)
		}
		pc.Close()
		ln.Close()
	}
}

func TestRequireTool(t *testing.T) {
	const missing = "resolvertest-no-such-tool"
	t.Run("present", func(t *testing.T) {
		if p := resolvertest.RequireTool(t, "sh"); p == "" {
			t.Fatal("empty path for sh")
		}
	})
	t.Run("missing skips", func(t *testing.T) {
		t.Setenv("CI", "")
		rec := runFake(t, func(tb testing.TB) { resolvertest.RequireTool(tb, missing) })
		if rec.skip == "" || rec.fatal != "" {
			t.Fatalf("want a skip, got skip=%q fatal=%q", rec.skip, rec.fatal)
		}
	})
	t.Run("missing fails on CI", func(t *testing.T) {
		t.Setenv("CI", "true")
		rec := runFake(t, func(tb testing.TB) { resolvertest.RequireTool(tb, missing) })
		if !strings.Contains(rec.fatal, "scripts/install-test-deps.sh") || rec.skip != "" {
			t.Fatalf("want a failure naming the install script, got skip=%q fatal=%q", rec.skip, rec.fatal)
		}
	})
}

// fakeTB records Fatal and Skip instead of ending the real test, so tests can check that
// the harness fails (or skips) when it should. Everything else goes to the real test.
type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Skip(args ...any) { f.Skipf("%s", fmt.Sprint(args...)) }

// runFake runs fn with a fakeTB in its own goroutine (Fatal ends it with Goexit, as the
// testing package does) and returns what was recorded.
func runFake(t *testing.T, fn func(testing.TB)) *fakeTB {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}
