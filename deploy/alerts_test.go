package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAlertRules validates prometheus/alerts.yml with promtool and runs its unit tests
// (prometheus/alerts_test.yml: every alert fires on the series that should fire it, with
// the annotations an operator reads, and stays quiet otherwise). It also checks that
// promtool does catch a broken rule, and that every metric the rules use is one Signet
// exports (named in the Go sources), so a renamed metric cannot leave an alert silent.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool := need(t, "promtool")
	rules := filepath.Join("prometheus", "alerts.yml")
	if out, errs, err := run(t, promtool, "check", "rules", filepath.Join("deploy", rules)); err != nil {
		t.Fatalf("promtool check rules: %v\n%s%s", err, out, errs)
	}
	cmd := []string{"test", "rules", "alerts_test.yml"}
	if out, errs, err := runIn(t, "deploy/prometheus", promtool, cmd...); err != nil || !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: %v\n%s%s", err, out, errs)
	}

	b, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yml")
	os.WriteFile(bad, []byte(strings.Replace(string(b), "> 0", "> > 0", 1)), 0o644)
	if _, _, err := run(t, promtool, "check", "rules", bad); err == nil {
		t.Error("promtool check rules accepted a broken expression")
	}

	exported := exportedMetrics(t)
	for _, m := range metricNames(string(b)) {
		if !exported[m] {
			t.Errorf("alerts.yml uses %s, which no Signet package exports", m)
		}
	}
}

// metricNames returns the signet_* names in text.
func metricNames(text string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(text, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if strings.HasPrefix(f, "signet_") {
			out = append(out, f)
		}
	}
	return out
}

// exportedMetrics collects the quoted "signet_..." names in the repository's Go sources.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "e2e") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, part := range strings.Split(string(b), `"`) {
			if strings.HasPrefix(part, "signet_") && !strings.ContainsAny(part, " {") {
				out[part] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
