package e2e

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDNSSECPlan asks the real server for a zone's rollover plan over 400 days: thirteen ZSK
// rollovers, one automatic KSK rollover with CDS and the parent's DS change, a clean policy
// check, and a timeline picture that is well-formed SVG with a lane per key.
func TestDNSSECPlan(t *testing.T) {
	t.Parallel()
	s := startSignetConfig(t, func(string) string {
		return "dnssec:\n  ksk_rollover: automatic\nzones:\n  - origin: example.test.\n    file: " + abs(t, "../testdata/example.test.zone") + "\n"
	}, "--dnssec")
	svg := filepath.Join(t.TempDir(), "plan.svg")
	out := s.run(t, "dnssec", "plan", "example.test.", "--for", "400d", "--svg", svg)
	t.Logf("signet dnssec plan:\n%s", out)

	rows := func(role, event string) int {
		n := 0
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) >= 5 && f[2] == role && f[len(f)-1] == event || len(f) >= 6 && f[2] == role && f[len(f)-2] == event {
				n++
			}
		}
		return n
	}
	if n := rows("ZSK", "active"); n != 13 {
		t.Errorf("%d ZSK activations in 400 days, want 13 (every 30 days)", n)
	}
	for _, ev := range []string{"published", "cds-published", "active", "removed"} {
		if n := rows("KSK", ev); n != 1 {
			t.Errorf("%d KSK %s events, want 1 (one automatic rollover after 365 days)", n, ev)
		}
	}
	if !strings.Contains(out, "ds-changed") || !strings.Contains(out, "KSK new KSK #1") {
		t.Errorf("no DS change at the parent in the plan")
	}
	if !strings.Contains(out, "Ipub 1h5m, Iret 1h5m") {
		t.Errorf("the plan does not give the RFC 7583 intervals for the zone's TTLs (1h)")
	}
	// No parent servers are configured: the plan says the swap will wait for an operator.
	if !strings.Contains(out, "warning parents:") || strings.Contains(out, "error ") {
		t.Errorf("want only the warning about missing parent servers")
	}

	b, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName xml.Name
		Texts   []struct {
			Class string `xml:"class,attr"`
			Body  string `xml:",chardata"`
		} `xml:"text"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || doc.XMLName.Local != "svg" {
		t.Fatalf("--svg wrote no SVG document: %v", err)
	}
	lanes := 0
	for _, tx := range doc.Texts {
		if tx.Class == "lane" && (strings.HasPrefix(tx.Body, "ZSK ") || strings.HasPrefix(tx.Body, "KSK ") || tx.Body == "DS at the parent") {
			lanes++
		}
	}
	if lanes != 14+2+1 {
		t.Errorf("the picture has %d lanes, want 17 (14 ZSKs, 2 KSKs, the parent's DS)", lanes)
	}
}

// TestDNSSECPlanChecksPolicy: a re-signing margin shorter than the zone's largest TTL is an
// error the plan names, and the command exits 1.
func TestDNSSECPlanChecksPolicy(t *testing.T) {
	t.Parallel()
	s := startSignetConfig(t, func(string) string {
		return "dnssec:\n  validity: 3h\n  refresh: 1h\nzones:\n  - origin: example.test.\n    file: " + abs(t, "../testdata/example.test.zone") + "\n"
	}, "--dnssec")
	out, err := s.try("dnssec", "plan", "example.test.", "--for", "10d")
	if err == nil {
		t.Fatalf("plan exited 0 with a bad policy:\n%s", out)
	}
	if !strings.Contains(out, "error refresh: dnssec.refresh 1h is not longer than the largest zone TTL 1h") {
		t.Errorf("the plan does not name the interval at fault:\n%s", out)
	}
}

func abs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
