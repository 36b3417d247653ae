package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRRLConfig(t *testing.T) {
	t.Parallel()
	ok := rrlConfig{Mode: "auto", ResponsesPerSecond: 20, Slip: 2, IPv4Prefix: 24, IPv6Prefix: 56}
	for _, tc := range []struct {
		listen []string
		mode   string
		on     bool
	}{
		{[]string{"127.0.0.1:53", "[::1]:53"}, "auto", false},
		{[]string{"127.0.0.1:53", "192.0.2.1:53"}, "auto", true},
		{[]string{"0.0.0.0:53"}, "auto", true},
		{[]string{"[::]:53"}, "auto", true},
		{[]string{"127.0.0.1:53"}, "on", true},
		{[]string{"0.0.0.0:53"}, "off", false},
	} {
		c := ok
		c.Mode = tc.mode
		if err := c.validate(); err != nil {
			t.Fatal(err)
		}
		if got := c.limiter(tc.listen) != nil; got != tc.on {
			t.Errorf("mode %s, listen %v: limiting %v, want %v", tc.mode, tc.listen, got, tc.on)
		}
	}
	for _, tc := range []struct {
		change func(*rrlConfig)
		key    string
	}{
		{func(c *rrlConfig) { c.Mode = "sometimes" }, "rrl.mode"},
		{func(c *rrlConfig) { c.ResponsesPerSecond = 0 }, "rrl.responses_per_second"},
		{func(c *rrlConfig) { c.Slip = 0 }, "rrl.slip"},
		{func(c *rrlConfig) { c.IPv4Prefix = 33 }, "rrl.ipv4_prefix"},
		{func(c *rrlConfig) { c.IPv6Prefix = 0 }, "rrl.ipv6_prefix"},
	} {
		c := ok
		tc.change(&c)
		if err := c.validate(); err == nil || !strings.HasPrefix(err.Error(), tc.key) {
			t.Errorf("got %v, want an error naming %s", err, tc.key)
		}
	}
}

func TestCookiesConfig(t *testing.T) {
	t.Parallel()
	if err := (cookiesConfig{Enabled: true, Rotate: time.Hour}).validate(); err == nil || !strings.HasPrefix(err.Error(), "cookies.rotate") {
		t.Errorf("an hour's rotation: %v", err)
	}
	if j, err := (cookiesConfig{Enabled: false}).jar(); j != nil || err != nil {
		t.Errorf("disabled: %v %v", j, err)
	}
	if j, err := (cookiesConfig{Enabled: true, Rotate: 24 * time.Hour}).jar(); j == nil || err != nil {
		t.Errorf("enabled: %v %v", j, err)
	}
}

// TestCookieSecretFile: a shared secret comes from a private file of 32 hex digits; anything
// else is an error naming the key, and never the secret.
func TestCookieSecretFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "e5e973e5a6b2a43f48e7dc849e37bfcf\n", 0o600)
	c := cookiesConfig{Enabled: true, Rotate: time.Minute, SecretFile: good, PreviousSecretFile: good}
	if err := c.validate(); err != nil {
		t.Fatalf("a shared secret needs no rotation: %v", err)
	}
	if j, err := c.jar(); err != nil || j == nil {
		t.Fatalf("jar: %v", err)
	}
	for _, tc := range []struct {
		file, key string
	}{
		{write("open", "e5e973e5a6b2a43f48e7dc849e37bfcf", 0o644), "cookies.secret_file"},
		{write("short", "e5e973e5", 0o600), "cookies.secret_file"},
		{write("nothex", "zz"+strings.Repeat("0", 30), 0o600), "cookies.secret_file"},
	} {
		c := cookiesConfig{Enabled: true, SecretFile: tc.file}
		_, err := c.jar()
		if err == nil || !strings.HasPrefix(err.Error(), tc.key) || strings.Contains(err.Error(), "e5e973e5") {
			t.Errorf("%s: %v", tc.file, err)
		}
	}
	if _, err := (cookiesConfig{Enabled: true, Rotate: 24 * time.Hour, PreviousSecretFile: filepath.Join(dir, "none")}).jar(); err == nil || !strings.HasPrefix(err.Error(), "cookies.previous_secret_file") {
		t.Errorf("missing previous secret: %v", err)
	}
}
