package main

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzConfigFile feeds arbitrary configuration files to the loader: it returns a config or
// an error, never a crash, and an accepted config has what serve relies on.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		"zones:\n  - origin: a.test.\n    file: a.zone\n",
		"listen: [\"127.0.0.1:53\"]\nzones: [{origin: a., file: a}]\ndnssec:\n  zsk_lifetime: route53\n  validity: 2h\n",
		"rrl:\n  mode: on\n  slip: -1\ncookies:\n  rotate: 2h\nzones: [{origin: a., file: a}]\n",
		"admin:\n  addr: 0.0.0.0:8053\n  hosts: [a, b]\nzones: [{origin: a., file: a, primaries: [\"192.0.2.1:53\"], tsig: k.}]\ntsig_keys: [{name: k., algorithm: hmac-sha256, secret_file: /nonexistent}]\n",
		"zones: {origin: a.}\n", "dnssec: [1, 2]\n", "\t- :\n", "zones:\n  - origin: *\n",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, text string) {
		path := filepath.Join(dir, "signet.yaml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		v := newViper()
		v.Set("config", path)
		c, err := loadConfig(v, nil)
		if err != nil {
			return
		}
		if len(c.Zones) == 0 || len(c.Listen) == 0 {
			t.Fatalf("accepted a config without zones or listen addresses: %q", text)
		}
	})
}
