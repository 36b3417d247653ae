package main

import (
	"strings"
	"testing"
)

// TestTransferConfig: the zone transfer settings are checked at load, each error naming its key.
func TestTransferConfig(t *testing.T) {
	keys := "tsig_keys:\n  - {name: k., algorithm: hmac-sha256, secret_file: /nonexistent}\n"
	zone := "zones:\n  - origin: a.test.\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"primary without port", zone + "    primaries: [\"192.0.2.1\"]\n", `zones[0].primaries: "192.0.2.1": want host:port`},
		{"unknown key", zone + "    primaries: [\"192.0.2.1:53\"]\n    tsig: nokey.\n", `zones[0].tsig: no key "nokey." in tsig_keys`},
		{"key without transfers", keys + zone + "    file: a.zone\n    tsig: k.\n", "zones[0].tsig: set, but the zone has neither primaries nor secondaries"},
		{"bad secondary", zone + "    file: a.zone\n    secondaries: [\"ns.example\"]\n", `zones[0].secondaries: "ns.example": want an IP address or IP:port`},
		{"bad transfer", zone + "    file: a.zone\n    secondaries: [\"192.0.2.2\"]\n    transfer: maybe\n", `zones[0].transfer: "maybe": want unsigned or signed`},
		{"signed without a chain", zone + "    file: a.zone\n    secondaries: [\"192.0.2.2\"]\n    transfer: signed\n", "zones[0].transfer: signed needs the zone's denial to be nsec or nsec3"},
		{"transfer to nobody", zone + "    file: a.zone\n    transfer: unsigned\n", "zones[0].transfer: set, but neither secondaries nor tsig say who may transfer the zone"},
		{"neither file nor primaries", zone, "zones[0].file: missing (or primaries: for a secondary zone)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newViper()
			v.Set("config", writeFile(t, t.TempDir(), "c.yaml", tc.yaml, 0o600))
			_, err := loadConfig(v, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// Valid: a signing secondary; a primary offering a signed zone with denial nsec3.
	for _, ok := range []string{
		keys + zone + "    primaries: [\"192.0.2.1:53\", \"[2001:db8::1]:5353\"]\n    tsig: k.\n",
		keys + zone + "    file: a.zone\n    secondaries: [\"192.0.2.2\", \"[2001:db8::2]:53\"]\n    transfer: signed\n    denial: nsec3\n    tsig: k.\n",
		keys + zone + "    file: a.zone\n    transfer: unsigned\n    tsig: k.\n",
	} {
		v := newViper()
		v.Set("config", writeFile(t, t.TempDir(), "c.yaml", ok, 0o600))
		if _, err := loadConfig(v, nil); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
