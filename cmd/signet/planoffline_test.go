package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanFromPolicyFile: `signet dnssec plan ZONE --policy FILE` plans without a server, from
// the file's policy and the zone file's TTLs, and checks the policy against RFC 7583 before it
// is put in place.
func TestPlanFromPolicyFile(t *testing.T) {
	dir := t.TempDir()
	// The largest TTL (2 days) is the zone's, read from its file.
	zone := writeFile(t, dir, "a.zone", goodZone+"big 172800 IN TXT \"x\"\n", 0o644)
	cfg := func(dnssec string) string {
		return writeFile(t, t.TempDir(), "c.yaml", "dnssec:\n"+dnssec+"zones:\n  - origin: a.test.\n    file: "+zone+"\n    parents: [\"192.0.2.1:53\"]\n", 0o600)
	}
	good := cfg("  ksk_rollover: automatic\n  ksk_lifetime: 2160h\n  refresh: 72h\n")
	svg := filepath.Join(dir, "plan.svg")
	code, out, msg := runSignet(t, "dnssec", "plan", "a.test", "--policy", good, "--for", "100d", "--svg", svg)
	if code != 0 {
		t.Fatalf("exit %d (%s):\n%s", code, msg, out)
	}
	for _, want := range []string{"largest zone TTL 2d", "new ZSK #1", "new KSK #2", "cds-published", "ds-changed", "warning keys: planned from " + good} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if b, err := os.ReadFile(svg); err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("no SVG written: %v", err)
	}

	// The default refresh (48h) is not longer than the zone's 2-day TTL + propagation delay.
	code, out, msg = runSignet(t, "dnssec", "plan", "a.test.", "--policy", cfg("  zsk_lifetime: 30m\n"), "--for", "2d")
	if code != 1 || !strings.Contains(msg, "has errors") {
		t.Errorf("bad policy: exit %d (%s), want 1", code, msg)
	}
	for _, want := range []string{"error zsk-lifetime: ZSK lifetime 30m", "error refresh: dnssec.refresh 2d"} {
		if !strings.Contains(out, want) {
			t.Errorf("bad policy: output lacks %q:\n%s", want, out)
		}
	}

	if code, _, msg = runSignet(t, "dnssec", "plan", "b.test.", "--policy", good); code != 1 || !strings.Contains(msg, "no zone b.test.") {
		t.Errorf("unknown zone: exit %d (%s)", code, msg)
	}
}
