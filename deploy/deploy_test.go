package deploy

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// need fails the test when a tool is missing: scripts/install-test-deps.sh installs them all.
func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found (scripts/install-test-deps.sh installs it): %v", tool, err)
	}
	return p
}

// run runs a command in the repository root and returns stdout and stderr apart.
func run(t *testing.T, name string, args ...string) (string, string, error) {
	t.Helper()
	return runIn(t, ".", name, args...)
}

// runIn runs a command in dir (relative to the repository root).
func runIn(t *testing.T, dir, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = filepath.Join("..", dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// install runs `make install` with the given variables and fails the test on error.
func install(t *testing.T, vars ...string) {
	t.Helper()
	need(t, "make")
	if out, errs, err := run(t, "make", append([]string{"--no-print-directory", "install"}, vars...)...); err != nil {
		t.Fatalf("make install %v: %v\n%s%s", vars, err, out, errs)
	}
}

// TestInstall checks that `make install` honours DESTDIR and PREFIX, fills the unit's paths
// in, installs a static binary that knows its commit, and never overwrites a configuration
// that is already there.
func TestInstall(t *testing.T) {
	t.Parallel()
	dest := t.TempDir()
	bin := filepath.Join(t.TempDir(), "signet")
	install(t, "DESTDIR="+dest, "PREFIX=/usr", "BIN="+bin)

	want := map[string]os.FileMode{
		"usr/bin/signet":                        0o755,
		"usr/lib/systemd/system/signet.service": 0o644,
		"etc/signet/signet.yaml":                0o644,
	}
	for p, mode := range want {
		fi, err := os.Stat(filepath.Join(dest, p))
		if err != nil {
			t.Fatalf("make install DESTDIR=%s PREFIX=/usr: %v", dest, err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), mode)
		}
	}
	unit, err := os.ReadFile(filepath.Join(dest, "usr/lib/systemd/system/signet.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "\nExecStart=/usr/bin/signet serve --config /etc/signet/signet.yaml ") {
		t.Errorf("the installed unit does not run /usr/bin/signet with /etc/signet/signet.yaml:\n%s", unit)
	}
	if strings.Contains(string(unit), "@") && strings.Contains(string(unit), "DIR@") {
		t.Errorf("the installed unit still has a placeholder:\n%s", unit)
	}

	installed := filepath.Join(dest, "usr/bin/signet")
	f, err := elf.Open(installed)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a dynamic loader (PT_INTERP): not a static binary", installed)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s links %v: not a static binary", installed, libs)
	}

	head, _, err := run(t, "git", "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	out, errs, err := run(t, installed, "version")
	if err != nil {
		t.Fatalf("signet version: %v\n%s", err, errs)
	}
	if !strings.Contains(out, "commit   "+strings.TrimSpace(head)) || !strings.Contains(out, "go       go1.") {
		t.Errorf("signet version does not name commit %s and the Go version:\n%s", strings.TrimSpace(head), out)
	}

	// The example configuration is valid for the binary it ships with: with its two files
	// (the zone, the passphrase) where a test can put them, `signet config check` passes.
	dir := t.TempDir()
	zone := filepath.Join(dir, "example.com.zone")
	pass := filepath.Join(dir, "keystore.passphrase")
	if err := os.WriteFile(zone, []byte("$ORIGIN example.com.\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n@ NS ns\nns A 192.0.2.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pass, []byte("correct horse battery staple\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(dest, "etc/signet/signet.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfgText := strings.NewReplacer("/etc/signet/zones/example.com.zone", zone,
		"/run/credentials/signet.service/keystore.passphrase", pass).Replace(string(example))
	cfgPath := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errs, err := run(t, installed, "config", "check", "--config", cfgPath); err != nil || !strings.Contains(out, "OK") {
		t.Errorf("signet config check on the example configuration: %v\n%s%s", err, out, errs)
	}

	// A second install keeps the operator's configuration.
	cfg := filepath.Join(dest, "etc/signet/signet.yaml")
	if err := os.WriteFile(cfg, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	install(t, "DESTDIR="+dest, "PREFIX=/usr", "BIN="+bin)
	if b, _ := os.ReadFile(cfg); string(b) != "# mine\n" {
		t.Errorf("make install overwrote an existing configuration: %q", b)
	}
}

// TestUnit checks the installed unit with systemd's own parser (any warning fails: systemd
// ignores a line it cannot parse, so a typo would silently drop a protection) and its
// security scan, and checks that the unit grants CAP_NET_BIND_SERVICE and no other capability.
func TestUnit(t *testing.T) {
	t.Parallel()
	need(t, "systemd-analyze")
	prefix := t.TempDir()
	install(t, "PREFIX="+prefix, "BIN="+filepath.Join(prefix, "build", "signet"))
	unit := filepath.Join(prefix, "lib/systemd/system/signet.service")

	verify := func(path string) string {
		out, errs, err := run(t, "systemd-analyze", "verify", "--man=no", path)
		if err != nil {
			return out + errs + err.Error()
		}
		return strings.TrimSpace(out + errs)
	}
	if msg := verify(unit); msg != "" {
		t.Errorf("systemd-analyze verify %s:\n%s", unit, msg)
	}
	// The check can fail: a misspelt protection is reported.
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(prefix, "lib/systemd/system/signet-bad.service")
	if err := os.WriteFile(bad, bytes.Replace(b, []byte("ProtectSystem=strict"), []byte("ProtectSystem=sometimes"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg := verify(bad); !strings.Contains(msg, "protect system") {
		t.Errorf("systemd-analyze verify let a bad ProtectSystem through: %q", msg)
	}

	// Exposure 0 (locked down) to 10 (unprotected); "OK" is below 4.
	out, errs, err := run(t, "systemd-analyze", "security", "--offline=yes", "--threshold=30", unit)
	if err != nil {
		t.Errorf("systemd-analyze security: exposure over 3.0 (%v):\n%s%s", err, tail(out, 5), errs)
	}

	for _, line := range []string{
		"Type=notify", "DynamicUser=yes", "StateDirectory=signet", "ProtectSystem=strict",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
		"ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
	} {
		if !hasLine(string(b), line) {
			t.Errorf("the unit lacks %q", line)
		}
	}
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
