package e2e

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/signetdns/signet/internal/resolvertest"
)

// TestCookiesByDefault: the real binary, as started with no cookie settings, hands dig and
// kdig a server cookie (RFC 7873, RFC 9018) and takes it back.
func TestCookiesByDefault(t *testing.T) {
	t.Parallel()
	resolvertest.RequireTool(t, "dig")
	resolvertest.RequireTool(t, "kdig")
	zone := copyZone(t, t.TempDir(), "example.test.zone")
	s := startSignet(t, "", "--dnssec", "--zone", "example.test.="+zone)
	host, port, _ := net.SplitHostPort(s.Addr)
	out := resolvertest.Dig(t, "@"+host, "-p", port, "+norec", "+dnssec", "+cookie", "www.example.test.", "A")
	m := regexp.MustCompile(`COOKIE: ([0-9a-f]{48}) \(good\)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "RRSIG") {
		t.Fatalf("dig +cookie:\n%s", out)
	}
	out = resolvertest.Dig(t, "@"+host, "-p", port, "+norec", "+cookie="+m[1], "www.example.test.", "A")
	if !strings.Contains(out, "(good)") || !strings.Contains(out, "status: NOERROR") {
		t.Fatalf("dig +cookie=VALUE:\n%s", out)
	}
	out = resolvertest.Kdig(t, "@"+host, "-p", port, "+norec", "+cookie", "www.example.test.", "A")
	if !regexp.MustCompile(`COOKIE: [0-9A-F]{48}\n`).MatchString(out) {
		t.Fatalf("kdig +cookie:\n%s", out)
	}
}
