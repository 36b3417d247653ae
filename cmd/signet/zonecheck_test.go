package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestZoneCheckCommand runs `signet zone check` as an operator would: a good zone passes with
// exit 0, a zone with an error exits 1 and names the file and line, a warning alone does not
// fail, and the origin comes from the file name unless it is given.
func TestZoneCheckCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const apex = "$TTL 300\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\n"

	good := write("check.test.zone", apex+"www A 192.0.2.80\n")
	code, out, errText := runSignet(t, "zone", "check", good)
	if code != 0 || !strings.Contains(out, "zone check.test.: "+good+" OK") {
		t.Fatalf("good zone: exit %d, output %q, error %q", code, out, errText)
	}

	// Line 6: a CNAME beside other data is an error (RFC 1034 §3.6.2).
	bad := write("bad.test.zone", apex+"www A 192.0.2.80\nwww CNAME ns1\n")
	code, out, errText = runSignet(t, "zone", "check", bad)
	if code != 1 || !strings.Contains(out, bad+":6: error:") || !strings.Contains(errText, "1 error(s)") {
		t.Fatalf("CNAME beside data: exit %d, output %q, error %q; want exit 1 naming %s:6", code, out, errText, bad)
	}

	// The origin is the second argument when the file name does not say it: a zone written
	// with absolute names passes as its own origin and fails as another one (out of zone).
	abs := write("abs.zone", "$TTL 300\ncheck.test. SOA ns1.check.test. host.check.test. 1 7200 3600 1209600 300\n"+
		"check.test. NS ns1.check.test.\nns1.check.test. A 192.0.2.1\n")
	if code, out, errText = runSignet(t, "zone", "check", abs, "check.test"); code != 0 {
		t.Fatalf("absolute names as check.test.: exit %d, output %q, error %q", code, out, errText)
	}
	if code, out, _ = runSignet(t, "zone", "check", abs, "other.test"); code != 1 || !strings.Contains(out, abs+":2: error:") {
		t.Fatalf("absolute names as other.test.: exit %d, output %q; want an error at line 2", code, out)
	}

	missing := filepath.Join(dir, "missing.zone")
	if code, out, _ = runSignet(t, "zone", "check", missing); code != 1 || !strings.Contains(out, missing) {
		t.Fatalf("missing file: exit %d, output %q", code, out)
	}
}
