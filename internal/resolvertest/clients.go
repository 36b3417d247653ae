package resolvertest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// Delv asks server ("127.0.0.1:5300", or a bare address for port 53) for name and qtype
// with `delv @HOST -p PORT -a FILE +root=ZONE NAME TYPE`, validating from anchors instead
// of the root. anchors are DS or DNSKEY records, all owned by one zone; they are written
// as static-ds / static-key entries of a BIND 9.18 trust-anchors { } statement, which is
// what delv's -a reads, and +root=ZONE makes that zone the top of the chain of trust
// (without +root delv ignores every anchor but the root's and says "No trusted keys were
// loaded").
//
// out is delv's stdout followed by its stderr (where the reason for a failure is printed).
// validated reports whether stdout says the answer, positive or negative, was fully
// validated; delv exits 0 even when validation fails, so that line is the only signal.
func Delv(t testing.TB, server string, anchors []dns.RR, name, qtype string) (out string, validated bool) {
	t.Helper()
	delv := RequireTool(t, "delv")
	host, port := splitServer(t, server)
	zone, conf := delvAnchors(t, anchors)
	file := filepath.Join(t.TempDir(), "anchors.conf")
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatalf("Delv: %v", err)
	}
	stdout, stderr, err := run(delv, "@"+host, "-p", port, "-a", file, "+root="+zone, name, qtype)
	out = stdout + stderr
	if err != nil {
		t.Fatalf("delv %s %s @%s: %v\n%s", name, qtype, server, err, out)
	}
	return out, delvValidated(stdout)
}

// ParseAnchors parses trust anchors in zone-file form, such as the output of
// `signet ds ZONE --format zone`, for Delv. Blank lines and comments are allowed; any
// record other than DS or DNSKEY fails the test.
func ParseAnchors(t testing.TB, text string) []dns.RR {
	t.Helper()
	zp := dns.NewZoneParser(strings.NewReader(text), ".", "")
	var out []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		switch rr.(type) {
		case *dns.DS, *dns.DNSKEY:
			out = append(out, rr)
		default:
			t.Fatalf("ParseAnchors: %q is neither DS nor DNSKEY", rr.String())
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("ParseAnchors: %v", err)
	}
	if len(out) == 0 {
		t.Fatalf("ParseAnchors: no DS or DNSKEY records in %q", text)
	}
	return out
}

// delvValidated reports whether delv's output has its verdict line for a validated
// answer: "; fully validated" or "; negative response, fully validated".
func delvValidated(stdout string) bool {
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		switch strings.TrimSpace(sc.Text()) {
		case "; fully validated", "; negative response, fully validated":
			return true
		}
	}
	return false
}

// delvAnchors renders anchors as a trust-anchors statement and returns their zone.
func delvAnchors(t testing.TB, anchors []dns.RR) (zone, conf string) {
	t.Helper()
	if len(anchors) == 0 {
		t.Fatal("Delv: no trust anchors")
	}
	var b strings.Builder
	b.WriteString("trust-anchors {\n")
	for _, rr := range anchors {
		owner := dns.CanonicalName(rr.Header().Name)
		if zone == "" {
			zone = owner
		} else if owner != zone {
			t.Fatalf("Delv: anchors for both %s and %s; +root takes one zone", zone, owner)
		}
		switch rr := rr.(type) {
		case *dns.DS:
			fmt.Fprintf(&b, "\t%s static-ds %d %d %d %q;\n", owner, rr.KeyTag, rr.Algorithm, rr.DigestType, rr.Digest)
		case *dns.DNSKEY:
			fmt.Fprintf(&b, "\t%s static-key %d %d %d %q;\n", owner, rr.Flags, rr.Protocol, rr.Algorithm, rr.PublicKey)
		default:
			t.Fatalf("Delv: anchor %q is neither DS nor DNSKEY", rr.String())
		}
	}
	b.WriteString("};\n")
	return zone, b.String()
}

// splitServer splits "host:port" for tools that take the port as a flag.
func splitServer(t testing.TB, server string) (host, port string) {
	t.Helper()
	if net.ParseIP(server) != nil {
		return server, "53"
	}
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		t.Fatalf("server %q: %v", server, err)
	}
	return host, port
}

// Dig runs the real dig with args passed through unchanged (for example "@127.0.0.1",
// "-p", "5300", "+norec", "+dnssec", "www.example.test", "A") and returns its stdout.
// A non-zero exit, such as 9 when no server answered, fails the test.
func Dig(t testing.TB, args ...string) string {
	t.Helper()
	return runTool(t, "dig", args)
}

// Kdig runs Knot's kdig with args passed through unchanged and returns its stdout.
// A non-zero exit fails the test.
func Kdig(t testing.TB, args ...string) string {
	t.Helper()
	return runTool(t, "kdig", args)
}

func runTool(t testing.TB, name string, args []string) string {
	t.Helper()
	path := RequireTool(t, name)
	stdout, stderr, err := run(path, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}
