package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// writeFile writes content to name in dir with mode perm and returns its path.
func writeFile(t *testing.T, dir, name, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadFile loads the configuration serve would get from the config file at path alone.
func loadFile(path string) (*config, error) {
	v := newViper()
	v.Set("config", path)
	return loadConfig(v, nil)
}

// mustLoad is loadFile failing the test on error.
func mustLoad(t *testing.T, path string) *config {
	t.Helper()
	c, err := loadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runSignet runs the CLI in-process with args and returns its exit code, stdout and the error
// text.
func runSignet(t *testing.T, args ...string) (code int, out string, errText string) {
	t.Helper()
	cmd := newRootCmd()
	var b bytes.Buffer
	cmd.SetOut(&b)
	cmd.SetErr(&b)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		return exitCode(err), b.String(), err.Error()
	}
	return 0, b.String(), ""
}

// fieldByKey returns the field of c that the dotted key names.
func fieldByKey(t *testing.T, c *config, key string) reflect.Value {
	t.Helper()
	v := reflect.ValueOf(c).Elem()
next:
	for _, part := range strings.Split(key, ".") {
		for _, f := range keyFields(v.Type()) {
			if f.name == part {
				v = v.FieldByIndex(f.index)
				continue next
			}
		}
		t.Fatalf("key %s: no field %s", key, part)
	}
	return v
}

// envValue is a value for a key of type typ other than its default def, as the environment
// spells it, and the value it must decode to.
func envValue(t *testing.T, key string, typ reflect.Type, def reflect.Value) (string, any) {
	switch {
	case typ == durationType:
		return "7m13s", 7*time.Minute + 13*time.Second
	case typ == reflect.TypeOf([]zoneConfig{}):
		return "a.test.=a.zone,b.test.=b.zone", []zoneConfig{{Origin: "a.test.", File: "a.zone"}, {Origin: "b.test.", File: "b.zone"}}
	case typ == reflect.TypeOf([]tsigKeyConfig{}):
		return "[{name: k1., algorithm: hmac-sha256, secret_file: /etc/k1}]", []tsigKeyConfig{{Name: "k1.", Algorithm: "hmac-sha256", SecretFile: "/etc/k1"}}
	}
	switch typ.Kind() {
	case reflect.String:
		return "env-" + key, "env-" + key
	case reflect.Bool:
		if def.Bool() {
			return "false", false
		}
		return "true", true
	case reflect.Int, reflect.Uint16, reflect.Uint32:
		return "7", reflect.ValueOf(7).Convert(typ).Interface()
	case reflect.Slice:
		if typ.Elem().Kind() == reflect.String {
			return "x1:1,x2:2", []string{"x1:1", "x2:2"}
		}
	}
	t.Fatalf("key %s: no test value for type %s; add one", key, typ)
	return "", nil
}

// TestEveryKeyFromEnvironment: every configuration key, listed from the config struct (so a
// key added later is covered), is set by its SIGNET_* variable, including keys with no
// default and no flag, which viper's Unmarshal ignored.
func TestEveryKeyFromEnvironment(t *testing.T) {
	keys := configKeys()
	for _, k := range []string{"dnssec.cds", "keystore.tpm.device", "chaos.version", "chaos.id", "keystore.passphrase_env", "zones", "dnssec.ksk_lifetime"} {
		if !slices.Contains(keys, k) {
			t.Errorf("configKeys misses %s: %v", k, keys)
		}
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			defaults, err := decodeConfig(newViper(), nil)
			if err != nil {
				t.Fatal(err)
			}
			def := fieldByKey(t, defaults, key)
			raw, want := envValue(t, key, def.Type(), def)
			if reflect.DeepEqual(def.Interface(), want) {
				t.Fatalf("the test value for %s is its default %v: it would prove nothing", key, want)
			}
			t.Setenv(envName(key), raw)
			c, err := decodeConfig(newViper(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := fieldByKey(t, c, key).Interface(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s=%s: %s is %#v, want %#v", envName(key), raw, key, got, want)
			}
		})
	}
}

// TestSectionsFromEnvironment: a list of sections in the environment may also be a YAML list,
// with every key of the section.
func TestSectionsFromEnvironment(t *testing.T) {
	t.Setenv("SIGNET_ZONES", `[{origin: a.test, file: a.zone, primaries: ["192.0.2.1:53"], ksk_lifetime: 40s, cds: true}]`)
	c, err := decodeConfig(newViper(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Zones) != 1 {
		t.Fatalf("zones %+v", c.Zones)
	}
	z := c.Zones[0]
	if z.Origin != "a.test." || z.File != "a.zone" || !slices.Equal(z.Primaries, []string{"192.0.2.1:53"}) ||
		z.KSKLifetime == nil || *z.KSKLifetime != 40*time.Second || z.CDS == nil || !*z.CDS {
		t.Errorf("zone %+v", z)
	}
	t.Setenv("SIGNET_ZONES", `[{origin: a.test, file: a.zone, zsk_lifetme: 1h}]`)
	if _, err := decodeConfig(newViper(), nil); err == nil || !strings.Contains(err.Error(), "entry 0: unknown key zsk_lifetme") {
		t.Errorf("error %v, want one naming the unknown key", err)
	}
	t.Setenv("SIGNET_ZONES", "")
	t.Setenv("SIGNET_TSIG_KEYS", "k1.=hmac-sha256")
	if _, err := decodeConfig(newViper(), nil); err == nil || !strings.Contains(err.Error(), "want a YAML list") {
		t.Errorf("error %v, want one asking for a YAML list", err)
	}
}

// TestPrecedence: a flag beats SIGNET_*, which beats the config file, which beats the default;
// checked on two keys with flags (state, dnssec.denial) and one without (chaos.version).
func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "signet.yaml", "state: /from/file\ndnssec:\n  denial: blacklies\nchaos:\n  version: file\n", 0o600)
	dump := func(t *testing.T, args ...string) map[string]any {
		t.Helper()
		code, out, msg := runSignet(t, append([]string{"config", "dump", "--zone", "x.test.=x.zone"}, args...)...)
		if code != 0 {
			t.Fatalf("config dump: %d %s", code, msg)
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v in:\n%s", err, out)
		}
		return m
	}
	get := func(m map[string]any, path ...string) any {
		var v any = m
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v
	}
	type want struct{ state, denial, chaos string }
	check := func(t *testing.T, m map[string]any, w want) {
		t.Helper()
		if got := get(m, "state"); got != w.state {
			t.Errorf("state %v, want %s", got, w.state)
		}
		if got := get(m, "dnssec", "denial"); got != w.denial {
			t.Errorf("dnssec.denial %v, want %s", got, w.denial)
		}
		if got := get(m, "chaos", "version"); got != w.chaos {
			t.Errorf("chaos.version %v, want %q", got, w.chaos)
		}
	}
	t.Run("defaults", func(t *testing.T) {
		check(t, dump(t), want{"./state", "compact", ""})
	})
	t.Run("file over defaults", func(t *testing.T) {
		check(t, dump(t, "--config", cfg), want{"/from/file", "blacklies", "file"})
	})
	t.Run("environment over file", func(t *testing.T) {
		t.Setenv("SIGNET_STATE", "/from/env")
		t.Setenv("SIGNET_DNSSEC_DENIAL", "whitelies")
		t.Setenv("SIGNET_CHAOS_VERSION", "env")
		check(t, dump(t, "--config", cfg), want{"/from/env", "whitelies", "env"})
	})
	t.Run("flags over environment", func(t *testing.T) {
		t.Setenv("SIGNET_STATE", "/from/env")
		t.Setenv("SIGNET_DNSSEC_DENIAL", "whitelies")
		check(t, dump(t, "--config", cfg, "--state", "/from/flag", "--denial", "compact"), want{"/from/flag", "compact", "file"})
	})
	t.Run("config file named by SIGNET_CONFIG", func(t *testing.T) {
		t.Setenv("SIGNET_CONFIG", cfg)
		check(t, dump(t), want{"/from/file", "blacklies", "file"})
	})
}

// TestDumpRedactsAndRoundTrips: config dump hides the admin token, and its output read back as
// a config file gives the same configuration.
func TestDumpRedactsAndRoundTrips(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "signet.yaml", `
listen: ["127.0.0.1:5300", "[::1]:5300"]
admin:
  token: hunter2-very-secret
dnssec:
  validity: 100h
  cds: true
zones:
  - origin: Example.TEST
    file: example.zone
    parents: ["192.0.2.1:53"]
    ksk_rollover: automatic
    dnskey_ttl: 60
`, 0o600)
	code, out, msg := runSignet(t, "config", "dump", "--config", cfg)
	if code != 0 {
		t.Fatal(msg)
	}
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "token: "+redacted) {
		t.Errorf("token not redacted:\n%s", out)
	}
	for _, want := range []string{"validity: 100h0m0s", "cds: true", "origin: example.test.", "ksk_rollover: automatic", "dnskey_ttl: 60", "refresh: 48h0m0s"} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
	// Read back, without the token line (the redaction marker is not the token).
	again := writeFile(t, dir, "again.yaml", strings.Replace(out, "token: "+redacted, "token: hunter2-very-secret", 1), 0o600)
	code, out2, msg := runSignet(t, "config", "dump", "--config", again)
	if code != 0 {
		t.Fatal(msg)
	}
	if out2 != out {
		t.Errorf("dump of the dump differs:\n%s\nvs\n%s", out, out2)
	}
}

// TestYAMLAnchorsAndMergeKeys: keys merged in with YAML's << are checked like the others.
func TestYAMLAnchorsAndMergeKeys(t *testing.T) {
	dir := t.TempDir()
	holder := writeFile(t, dir, "holder.yaml", "common: &c {cds: true, dnskey_ttl: 60}\n", 0o600)
	if _, err := loadFile(holder); err == nil || !strings.Contains(err.Error(), "unknown key common") {
		t.Errorf("a top-level anchor holder: %v, want unknown key common", err)
	}
	merged := writeFile(t, dir, "merged.yaml", "dnssec: &d\n  cds: true\nzones:\n  - <<: *d\n    origin: a.test.\n    file: a.zone\n", 0o600)
	c, err := loadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	if z := c.Zones[0]; z.CDS == nil || !*z.CDS {
		t.Errorf("merged cds not in the zone: %+v", z)
	}
	typo := writeFile(t, dir, "typo.yaml", "dnssec: &d\n  cds: true\nzones:\n  - <<: [*d, {cdz: true}]\n    origin: a.test.\n    file: a.zone\n", 0o600)
	if _, err := loadFile(typo); err == nil || !strings.Contains(err.Error(), "typo.yaml:4: unknown key zones[0].cdz") {
		t.Errorf("a typo in a merged mapping: %v", err)
	}
}

// TestUnknownKeysRefuseToStart: a typo anywhere in the file, also in a zone entry, stops
// serve before anything starts; the error names each key, the file and the line.
func TestUnknownKeysRefuseToStart(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "typo.yaml", `listen: ["127.0.0.1:0"]
state: `+filepath.Join(dir, "state")+`
dnssec:
  zsk_lifetme: 10h
zones:
  - origin: a.test.
    file: a.zone
  - origin: b.test.
    file: b.zone
    ksk_lifetme: 40s
colour: blue
`, 0o600)
	code, _, msg := runSignet(t, "serve", "--config", cfg, "--admin", "off")
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	for _, want := range []string{
		cfg + ":4: unknown key dnssec.zsk_lifetme (did you mean dnssec.zsk_lifetime?)",
		cfg + ":10: unknown key zones[1].ksk_lifetme (did you mean zones[1].ksk_lifetime?)",
		cfg + ":11: unknown key colour",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); err == nil {
		t.Error("serve created its state directory before refusing the config")
	}
}

// TestValidate: each bad value or combination is refused with the key that is at fault.
func TestValidate(t *testing.T) {
	base := "zones:\n  - origin: a.test.\n    file: a.zone\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"bad duration", "dnssec:\n  validity: 5x\n" + base, "dnssec.validity"},
		{"validity too short", "dnssec:\n  validity: 1h\n" + base, "dnssec.validity: 1h0m0s is too short"},
		{"refresh over validity", "dnssec:\n  validity: 10h\n  refresh: 9h30m\n" + base, "dnssec.refresh: 9h30m0s must be positive and below validity (10h0m0s)"},
		{"bad algorithm", "dnssec:\n  algorithm: DSA\n" + base, `dnssec.algorithm: "DSA"`},
		{"bad denial", "dnssec:\n  denial: nsec9\n" + base, `dnssec.denial: "nsec9"`},
		{"zero zsk lifetime", "dnssec:\n  zsk_lifetime: 0s\n" + base, "dnssec.zsk_lifetime"},
		{"negative parent ds ttl", "dnssec:\n  parent_ds_ttl: -1h\n" + base, "dnssec.parent_ds_ttl: -1h0m0s is negative"},
		{"zero dnskey ttl", base + "    dnskey_ttl: 0\n", "zones[0].dnskey_ttl: must be at least 1"},
		{"zone bad rollover", base + "    ksk_rollover: sometimes\n", `zones[0].ksk_rollover: "sometimes": want manual or automatic (zone a.test.)`},
		{"zone refresh over its validity", base + "    validity: 3h\n", "zones[0].refresh: 48h0m0s must be positive and below validity (3h0m0s)"},
		{"zone bad duration", base + "    ds_wait_limit: soon\n", "zones[0].ds_wait_limit"},
		{"no zones", "state: x\n", "zones: no zone configured"},
		{"zone without file", "zones:\n  - origin: a.test.\n", "zones[0].file: missing"},
		{"zone without origin", "zones:\n  - file: a.zone\n", "zones[0].origin: missing"},
		{"zone twice", base + "  - origin: A.test\n    file: b.zone\n", "zones[1].origin: a.test. is configured twice"},
		{"bad origin", "zones:\n  - origin: a..test\n    file: a.zone\n", `zones[0].origin: "a..test." is not a domain name`},
		{"two passphrase sources", "keystore:\n  passphrase_file: p\n  passphrase_env: P\n" + base, "keystore.passphrase_file and keystore.passphrase_env"},
		{"cache size", "dnssec:\n  cache_size: -1\n" + base, "dnssec.cache_size: must be positive"},
		{"memory limit", "memory_limit: lots\n" + base, `memory_limit: bad size "lots"`},
		{"ksk check interval", "dnssec:\n  ksk_check_interval: 10ms\n" + base, "dnssec.ksk_check_interval"},
		{"listen empty", "listen: []\n" + base, "listen: no address"},
		{"listen without port", "listen: [\"127.0.0.1\"]\n" + base, `listen: "127.0.0.1": want host:port`},
		{"bad zones in environment", "", "zones: \"nofile\": want ORIGIN=FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newViper()
			if tc.yaml != "" {
				v.Set("config", writeFile(t, t.TempDir(), "c.yaml", tc.yaml, 0o600))
			} else {
				t.Setenv("SIGNET_ZONES", "nofile")
			}
			_, err := loadConfig(v, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestValidateNamesEveryProblem: one check names every problem of the settings, not only the
// first, so that a config with three mistakes needs one round trip, not three.
func TestValidateNamesEveryProblem(t *testing.T) {
	yaml := "listen: [\"127.0.0.1\"]\ndnssec:\n  refresh: 300h\n  zsk_lifetime: 3x\nzones:\n  - origin: a.test.\n    file: a.zone\n    algorithm: FOO\n  - origin: b.test.\n"
	v := newViper()
	v.Set("config", writeFile(t, t.TempDir(), "c.yaml", yaml, 0o600))
	_, err := loadConfig(v, nil)
	if err == nil {
		t.Fatal("a config with five problems loaded")
	}
	for _, want := range []string{`listen: "127.0.0.1"`, "dnssec.refresh", `dnssec.zsk_lifetime: "3x"`, `zones[0].algorithm: "FOO"`, "zones[1].file: missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
	// A bad global value is named once, not again for every zone that inherits it.
	if strings.Contains(err.Error(), "zones[0].zsk_lifetime") || strings.Contains(err.Error(), "zones[1].refresh") {
		t.Errorf("inherited problems repeated per zone:\n%v", err)
	}
}

// TestREADMEConfigExamples: the YAML examples of the README's configuration reference and key
// rollover sections use only keys Signet knows, with values that decode and validate.
func TestREADMEConfigExamples(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, section := range []string{"## Configuration reference", "### Configuration\n"} {
		i := strings.Index(readme, section)
		if i < 0 {
			t.Fatalf("README has no %q", section)
		}
		rest := readme[i:]
		start := strings.Index(rest, "```yaml\n")
		end := strings.Index(rest[start+8:], "```")
		if start < 0 || end < 0 {
			t.Fatalf("no YAML block after %q", section)
		}
		v := newViper()
		v.Set("config", writeFile(t, t.TempDir(), "readme.yaml", rest[start+8:start+8+end], 0o600))
		if _, err := loadConfig(v, nil); err != nil {
			t.Errorf("README %s example: %v", strings.TrimSpace(section), err)
		}
	}
}

// TestShippedConfig: the example configuration shipped for the service has only known keys and
// valid values.
func TestShippedConfig(t *testing.T) {
	v := newViper()
	v.Set("config", "../../deploy/signet.yaml")
	if _, err := loadConfig(v, nil); err != nil {
		t.Error(err)
	}
}

// TestBadValueFromEnvironment: a bad value from a SIGNET_* variable is traced to it (no file
// line holds it), and one from the file is not blamed on the environment.
func TestBadValueFromEnvironment(t *testing.T) {
	base := "zones:\n  - origin: a.test.\n    file: a.zone\n"
	t.Run("environment", func(t *testing.T) {
		t.Setenv("SIGNET_DNSSEC_VALIDITY", "soon")
		v := newViper()
		v.Set("config", writeFile(t, t.TempDir(), "c.yaml", base, 0o600))
		_, err := loadConfig(v, nil)
		if err == nil || !strings.Contains(err.Error(), "dnssec.validity") || !strings.Contains(err.Error(), "SIGNET_DNSSEC_VALIDITY") {
			t.Errorf("error %v, want one naming dnssec.validity and SIGNET_DNSSEC_VALIDITY", err)
		}
	})
	t.Run("file", func(t *testing.T) {
		v := newViper()
		v.Set("config", writeFile(t, t.TempDir(), "c.yaml", "dnssec:\n  validity: soon\n"+base, 0o600))
		_, err := loadConfig(v, nil)
		if err == nil || strings.Contains(err.Error(), "environment") {
			t.Errorf("error %v, want one not blaming the environment", err)
		}
	})
}
