package server

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/signetdns/signet/internal/resolvertest"
)

// TestRealClients has the real dig and kdig check us: truncation with the automatic TCP
// retry, EDNS, and the 0x20 question echo.
func TestRealClients(t *testing.T) {
	resolvertest.RequireTool(t, "dig")
	resolvertest.RequireTool(t, "kdig")
	ts := startServer(t, Config{}, exampleZones...)
	host, port, _ := net.SplitHostPort(ts.udp)

	t.Run("dig retries a truncated answer over TCP", func(t *testing.T) {
		out := resolvertest.Dig(t, "@"+host, "-p", port, "+norec", "+bufsize=1232", "big.example.test.", "TXT")
		if !strings.Contains(out, "Truncated, retrying in TCP mode") {
			t.Errorf("dig did not see TC=1:\n%s", out)
		}
		if !regexp.MustCompile(`ANSWER: 40,`).MatchString(out) {
			t.Errorf("dig did not get all 40 TXT records over TCP:\n%s", out)
		}
	})
	t.Run("kdig retries a truncated answer over TCP", func(t *testing.T) {
		out := resolvertest.Kdig(t, "@"+host, "-p", port, "+norec", "+bufsize=1232", "big.example.test.", "TXT")
		if !strings.Contains(out, "ANSWER: 40;") {
			t.Errorf("kdig did not get all 40 TXT records:\n%s", out)
		}
	})
	t.Run("EDNS", func(t *testing.T) {
		out := resolvertest.Kdig(t, "@"+host, "-p", port, "+norec", "+edns=0", "+bufsize=4096", "www.example.test.", "A")
		if !strings.Contains(out, "EDNS PSEUDOSECTION") || !strings.Contains(out, "UDP size: 1232 B") {
			t.Errorf("kdig did not see our EDNS with 1232:\n%s", out)
		}
		out = resolvertest.Dig(t, "@"+host, "-p", port, "+norec", "+edns=1", "+noednsneg", "www.example.test.", "A")
		if !strings.Contains(out, "status: BADVERS") {
			t.Errorf("dig +edns=1 did not get BADVERS:\n%s", out)
		}
	})
	t.Run("0x20", func(t *testing.T) {
		out := resolvertest.Dig(t, "@"+host, "-p", port, "+norec", "WwW.eXaMpLe.TeSt.", "A")
		if !strings.Contains(out, ";WwW.eXaMpLe.TeSt.") || !strings.Contains(out, "192.0.2.80") {
			t.Errorf("question not echoed in the case sent:\n%s", out)
		}
		// kdig lowercases the name it sends, so it checks the case-insensitive match only.
		out = resolvertest.Kdig(t, "@"+host, "-p", port, "+norec", "+tcp", "WwW.eXaMpLe.TeSt.", "A")
		if !strings.Contains(out, "status: NOERROR") || !strings.Contains(out, "192.0.2.80") {
			t.Errorf("kdig over TCP:\n%s", out)
		}
	})
}
