package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPassphraseSources: the keystore passphrase comes from the file or the variable the config
// names (never the config itself); with neither, the quick start makes a random one in a 0600
// file in the state directory, reuses it on the next start, and never logs it.
func TestPassphraseSources(t *testing.T) {
	dir := t.TempDir()
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))

	c := &config{State: dir}
	c.Keystore.PassphraseFile = writeFile(t, dir, "pass", "from-file\n", 0o600)
	if p, random, err := passphrase(c, log); err != nil || string(p) != "from-file" || random {
		t.Errorf("file: %q %v %v", p, random, err)
	}
	c.Keystore.PassphraseFile = writeFile(t, dir, "open", "from-file\n", 0o644)
	if _, _, err := passphrase(c, log); err == nil || !strings.Contains(err.Error(), "keystore.passphrase_file") {
		t.Errorf("a world-readable file: %v, want an error naming keystore.passphrase_file", err)
	}

	c = &config{State: dir}
	c.Keystore.PassphraseEnv = "SIGNET_TEST_PASSPHRASE"
	t.Setenv("SIGNET_TEST_PASSPHRASE", "from-env")
	if p, random, err := passphrase(c, log); err != nil || string(p) != "from-env" || random {
		t.Errorf("env: %q %v %v", p, random, err)
	}
	c.Keystore.PassphraseEnv = "SIGNET_TEST_NO_SUCH_PASSPHRASE"
	if _, _, err := passphrase(c, log); err == nil || !strings.Contains(err.Error(), "keystore.passphrase_env") {
		t.Errorf("unset variable: %v, want an error naming keystore.passphrase_env", err)
	}

	c = &config{State: dir}
	p1, random, err := passphrase(c, log)
	if err != nil || !random || len(p1) < 40 {
		t.Fatalf("quick start: %q %v %v", p1, random, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "keystore.passphrase"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("quick start file: %v %v, want mode 0600", fi, err)
	}
	p2, _, err := passphrase(c, log)
	if err != nil || string(p2) != string(p1) {
		t.Errorf("second start: %q %v, want the same passphrase", p2, err)
	}
	if strings.Contains(logBuf.String(), string(p1)) {
		t.Error("the generated passphrase is in the log")
	}
	if !strings.Contains(logBuf.String(), "does not protect them") {
		t.Errorf("no warning about the quick start passphrase in %q", logBuf.String())
	}
}

// TestEnsurePrivateDir: the state directory is created 0700, and an existing one is tightened.
func TestEnsurePrivateDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := ensurePrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if err := ensurePrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state %v %v, want 0700", fi, err)
	}
	if err := ensurePrivateDir(""); err == nil {
		t.Error("an empty state directory was accepted")
	}
}

// TestServerSettingsReachServer: the listen, UDP, packet cache, TCP and CHAOS keys reach the
// server's configuration.
func TestServerSettingsReachServer(t *testing.T) {
	cfg := writeFile(t, t.TempDir(), "c.yaml", `listen: ["127.0.0.1:5300", "[::1]:5300"]
udp_size: 1400
packet_cache_size: -1
tcp:
  idle_timeout: 3s
  max_conns: 9
  max_queries: 11
chaos:
  version: signet-test
  id: ns-test
zones:
  - origin: a.test.
    file: a.zone
`, 0o600)
	c := mustLoad(t, cfg)
	s := c.serverConfig()
	if strings.Join(s.Listen, " ") != "127.0.0.1:5300 [::1]:5300" || s.UDPSize != 1400 || s.PacketCacheSize != -1 ||
		s.TCPIdleTimeout != 3*time.Second || s.MaxTCPConns != 9 || s.MaxTCPQueries != 11 ||
		s.ChaosVersion != "signet-test" || s.ChaosID != "ns-test" {
		t.Errorf("server config %+v", s)
	}
}

// TestLogger: log.level and log.format choose the handler; bad values name the key.
func TestLogger(t *testing.T) {
	for _, tc := range []struct{ level, format, want, err string }{
		{"debug", "json", `"level":"DEBUG"`, ""},
		{"info", "text", "level=INFO", ""},
		{"loud", "text", "", "log.level"},
		{"info", "xml", "", "log.format"},
	} {
		v := newViper()
		v.Set("log.level", tc.level)
		v.Set("log.format", tc.format)
		var b bytes.Buffer
		log, err := newLogger(v, &b)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s/%s: %v, want an error naming %s", tc.level, tc.format, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		log.Debug("d")
		log.Info("i")
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s/%s: %q lacks %q", tc.level, tc.format, b.String(), tc.want)
		}
		if tc.level == "info" && strings.Contains(b.String(), "DEBUG") {
			t.Errorf("info level logged debug: %q", b.String())
		}
	}
}
