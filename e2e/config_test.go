package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestConfigFromEnvironmentAndTypos runs the real binary: settings with no default and no flag
// (chaos.version, chaos.id) reach the running server from SIGNET_* variables, a per-zone
// setting from the file reaches the zone, and a config file with a typo, also inside a zone
// entry, stops `signet serve` before it listens, naming the file, line and key.
func TestConfigFromEnvironmentAndTypos(t *testing.T) {
	dir := t.TempDir()
	zone := filepath.Join(dir, "env.test.zone")
	if err := os.WriteFile(zone, []byte("$ORIGIN env.test.\n$TTL 60\n@ SOA ns host 1 7200 3600 1209600 60\n@ NS ns\nns A 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfg, []byte("zones:\n  - origin: env.test.\n    file: "+zone+"\n    dnskey_ttl: 42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SIGNET_CHAOS_VERSION", "signet-from-env")
	t.Setenv("SIGNET_CHAOS_ID", "ns-from-env")
	s := startSignet(t, "", "--config", cfg, "--dnssec")
	for name, want := range map[string]string{"version.bind.": "signet-from-env", "id.server.": "ns-from-env"} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		m.Question[0].Qclass = dns.ClassCHAOS
		r, _, err := (&dns.Client{Timeout: 3 * time.Second}).Exchange(m, s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Answer) != 1 || strings.Join(r.Answer[0].(*dns.TXT).Txt, "") != want {
			t.Errorf("%s CH TXT: %v, want %q", name, r, want)
		}
	}
	r := s.query(t, "env.test.", dns.TypeDNSKEY, true)
	if len(r.Answer) == 0 {
		t.Fatalf("no DNSKEY: %v", r)
	}
	for _, rr := range r.Answer {
		if rr.Header().Ttl != 42 {
			t.Errorf("zones[0].dnskey_ttl 42 not served: %s", rr)
		}
	}

	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("zones:\n  - origin: env.test.\n    file: "+zone+"\n    ksk_lifetme: 40s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, signetBin, "serve", "--config", typo, "--listen", "127.0.0.1:0", "--admin", "off",
		"--state", filepath.Join(dir, "typo-state")).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("serve with a typo: %v, want exit status 2\n%s", err, out)
	}
	if want := typo + ":4: unknown key zones[0].ksk_lifetme (did you mean zones[0].ksk_lifetime?)"; !strings.Contains(string(out), want) {
		t.Errorf("serve output lacks %q:\n%s", want, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "typo-state")); err == nil {
		t.Error("serve made its state directory before refusing the config")
	}
	out, err = exec.CommandContext(ctx, signetBin, "config", "check", "--config", typo).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "ksk_lifetme") {
		t.Errorf("config check with a typo: %v, want exit status 1 naming the key\n%s", err, out)
	}
}
