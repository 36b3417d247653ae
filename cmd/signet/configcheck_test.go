package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodZone = `$ORIGIN a.test.
$TTL 300
@ IN SOA ns1 host 1 7200 3600 1209600 300
@ IN NS ns1
ns1 IN A 192.0.2.53
`

// TestConfigCheck: `signet config check` passes a good configuration and, for each kind of
// problem, exits 1 naming the key or the file (and line) at fault, without creating the state
// directory or anything else.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	zone := writeFile(t, dir, "a.zone", goodZone, 0o644)
	bad := writeFile(t, dir, "bad.zone", goodZone+"www IN A not-an-address\n", 0o644)
	longTTL := writeFile(t, dir, "long.zone", goodZone+"www 86400 IN A 192.0.2.1\n", 0o644)
	pass := writeFile(t, dir, "pass", "secret-passphrase\n", 0o600)
	open := writeFile(t, dir, "open-pass", "secret-passphrase\n", 0o644)
	tsig := writeFile(t, dir, "k.key", "c2VjcmV0LXNlY3JldC1zZWNyZXQ=\n", 0o600)
	state := filepath.Join(dir, "state")
	cfg := func(extra string) string {
		return writeFile(t, t.TempDir(), "c.yaml", "state: "+state+"\nzones:\n  - origin: a.test.\n    file: "+zone+"\n"+extra, 0o600)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // "" means OK
		out  string // printed besides
	}{
		{name: "good", args: []string{"--config", cfg("keystore:\n  passphrase_file: " + pass + "\n")}},
		{name: "flags only", args: []string{"--zone", "a.test.=" + zone, "--state", state}},
		{name: "unknown key", args: []string{"--config", cfg("dnssec:\n  zsk_lifetme: 1h\n")}, want: "c.yaml:6: unknown key dnssec.zsk_lifetme"},
		{name: "bad duration", args: []string{"--config", cfg("dnssec:\n  ds_check_interval: hourly\n")}, want: "dnssec.ds_check_interval"},
		{name: "missing zone file", args: []string{"--zone", "b.test.=" + filepath.Join(dir, "nope.zone"), "--state", state}, want: "zones[0].file: " + filepath.Join(dir, "nope.zone")},
		{name: "zone file that does not parse", args: []string{"--zone", "a.test.=" + bad, "--state", state}, want: "zones[0].file: " + bad + " (zone a.test.): 1 error(s)", out: bad + ":6: error: "},
		{name: "missing config file", args: []string{"--config", filepath.Join(dir, "nope.yaml")}, want: "nope.yaml"},
		{name: "passphrase file readable by others", args: []string{"--config", cfg("keystore:\n  passphrase_file: " + open + "\n")}, want: "keystore.passphrase_file: keystore: passphrase: secret file " + open + " has mode 0644"},
		{name: "passphrase variable unset", args: []string{"--config", cfg("keystore:\n  passphrase_env: SIGNET_TEST_NO_SUCH_VAR\n")}, want: "keystore.passphrase_env"},
		{name: "tpm device missing", args: []string{"--config", cfg("keystore:\n  tpm:\n    device: unix:" + filepath.Join(dir, "swtpm.sock") + "\n")}, want: "keystore.tpm.device"},
		{name: "admin off loopback without token", args: []string{"--config", cfg("admin:\n  addr: 0.0.0.0:8053\n")}, want: "admin.token: required when admin.addr (0.0.0.0:8053)"},
		{name: "admin off loopback with token", args: []string{"--config", cfg("admin:\n  addr: 0.0.0.0:8053\n"), "--admin-token", "t"}},
		{name: "tsig secret readable by others", args: []string{"--config", cfg("tsig_keys:\n  - {name: k., algorithm: hmac-sha256, secret_file: " + open + "}\n")}, want: "tsig_keys[0]: key k.: secret file " + open + " has mode 0644"},
		{name: "tsig secret missing", args: []string{"--config", cfg("tsig_keys:\n  - {name: k., algorithm: hmac-sha256, secret_file: " + filepath.Join(dir, "nope.key") + "}\n")}, want: "tsig_keys[0]: key k.: open " + filepath.Join(dir, "nope.key")},
		{name: "good tsig key", args: []string{"--config", cfg("tsig_keys:\n  - {name: k., algorithm: hmac-sha256, secret_file: " + tsig + "}\n")}},
		{name: "bad log level", args: []string{"--config", cfg("log:\n  level: chatty\n")}, want: "log.level"},
		{name: "refresh over validity from the environment", args: []string{"--config", cfg("")}, env: map[string]string{"SIGNET_DNSSEC_REFRESH": "200h"}, want: "dnssec.refresh: 200h0m0s"},
		{name: "ZSK lifetime under the publish interval", args: []string{"--config", cfg("dnssec:\n  zsk_lifetime: 30m\n")},
			want: "zones[0] (zone a.test.): the DNSSEC policy has 2 error(s)", out: "zone a.test.: error zsk-lifetime: ZSK lifetime 30m is not longer than the publish interval"},
		{name: "refresh under the zone's largest TTL", args: []string{"--zone", "a.test.=" + longTTL, "--state", state}, env: map[string]string{"SIGNET_DNSSEC_REFRESH": "24h"},
			want: "zones[0] (zone a.test.): the DNSSEC policy has 1 error(s)", out: "zone a.test.: error refresh: dnssec.refresh 1d is not longer than the largest zone TTL 1d"},
		{name: "state is a file", args: []string{"--zone", "a.test.=" + zone, "--state", zone}, want: "state: " + zone + " is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, out, msg := runSignet(t, append([]string{"config", "check"}, tc.args...)...)
			if tc.want == "" {
				if code != 0 || !strings.Contains(out, "OK (1 zones)") {
					t.Errorf("exit %d, error %q, output %q; want OK", code, msg, out)
				}
				return
			}
			if code != 1 || !strings.Contains(msg, tc.want) {
				t.Errorf("exit %d, error %q; want 1 and %q", code, msg, tc.want)
			}
			if !strings.Contains(out, tc.out) {
				t.Errorf("output %q lacks %q", out, tc.out)
			}
		})
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("config check created the state directory")
	}
}
