package main

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/signer"
)

// TestZoneSettingsMirrorGlobal: every per-zone key is a dnssec.* key of the same type, and the
// per-zone keys are exactly the signing settings a zone may own.
func TestZoneSettingsMirrorGlobal(t *testing.T) {
	global := map[string]reflect.Type{}
	for _, f := range keyFields(reflect.TypeOf(SigningSettings{})) {
		global[f.name] = f.field.Type
	}
	var zone []string
	for _, f := range keyFields(reflect.TypeOf(ZoneSettings{})) {
		zone = append(zone, f.name)
		if f.field.Type.Kind() != reflect.Pointer || global[f.name] != f.field.Type.Elem() {
			t.Errorf("zones[].%s is %s; dnssec.%s is %v", f.name, f.field.Type, f.name, global[f.name])
		}
	}
	want := []string{"algorithm", "cds", "denial", "dnskey_ttl", "ds_check_interval", "ds_wait_limit", "ksk_lifetime", "ksk_rollover",
		"parent_ds_ttl", "parent_propagation", "propagation_delay", "refresh", "validity", "zsk_lifetime"}
	slices.Sort(zone)
	if !slices.Equal(zone, want) || len(global) != len(want) {
		t.Errorf("per-zone keys %v, want %v (global %d)", zone, want, len(global))
	}
}

// TestZoneOverrides: each per-zone setting reaches that zone's key manager policy and only
// that zone's; the other zone keeps the global value.
func TestZoneOverrides(t *testing.T) {
	type tc struct {
		global, zone string // YAML values
		get          func(p keymgr.ZonePolicy) any
		wantGlobal   any
		wantZone     any
	}
	cases := map[string]tc{
		"denial":             {"blacklies", "whitelies", func(p keymgr.ZonePolicy) any { return p.Mode }, signer.BlackLies, signer.WhiteLies},
		"algorithm":          {"ED25519", "RSASHA256", func(p keymgr.ZonePolicy) any { return p.Algorithm }, uint8(15), uint8(8)},
		"validity":           {"100h", "60h", func(p keymgr.ZonePolicy) any { return p.Validity }, 100 * time.Hour, 60 * time.Hour},
		"refresh":            {"30h", "3h", func(p keymgr.ZonePolicy) any { return p.Refresh }, 30 * time.Hour, 3 * time.Hour},
		"dnskey_ttl":         {"600", "60", func(p keymgr.ZonePolicy) any { return p.DNSKEYTTL }, 10 * time.Minute, time.Minute},
		"cds":                {"true", "false", func(p keymgr.ZonePolicy) any { return p.CDS }, true, false},
		"zsk_lifetime":       {"100h", "route53", func(p keymgr.ZonePolicy) any { return [2]any{p.Rollover.ZSKLifetime, p.Route53ZSKLifetime} }, [2]any{100 * time.Hour, false}, [2]any{time.Duration(0), true}},
		"ksk_rollover":       {"automatic", "manual", func(p keymgr.ZonePolicy) any { return p.Rollover.KSKAutomatic }, true, false},
		"ksk_lifetime":       {"1000h", "40s", func(p keymgr.ZonePolicy) any { return p.Rollover.KSKLifetime }, 1000 * time.Hour, 40 * time.Second},
		"propagation_delay":  {"10m", "1s", func(p keymgr.ZonePolicy) any { return p.Rollover.PropagationDelay }, 10 * time.Minute, time.Second},
		"parent_ds_ttl":      {"48h", "2s", func(p keymgr.ZonePolicy) any { return p.Rollover.ParentDSTTL }, 48 * time.Hour, 2 * time.Second},
		"parent_propagation": {"2h", "3s", func(p keymgr.ZonePolicy) any { return p.Rollover.ParentPropagation }, 2 * time.Hour, 3 * time.Second},
		"ds_check_interval":  {"2h", "1s", func(p keymgr.ZonePolicy) any { return p.Rollover.DSCheckInterval }, 2 * time.Hour, time.Second},
		"ds_wait_limit":      {"200h", "1m", func(p keymgr.ZonePolicy) any { return p.Rollover.DSWaitLimit }, 200 * time.Hour, time.Minute},
	}
	for _, f := range keyFields(reflect.TypeOf(ZoneSettings{})) {
		if _, ok := cases[f.name]; !ok {
			t.Errorf("zones[].%s has no case here: add one", f.name)
		}
	}
	for key, c := range cases {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := writeFile(t, dir, "c.yaml", "dnssec:\n  "+key+": "+c.global+"\n"+
				"zones:\n  - origin: own.test.\n    file: own.zone\n    "+key+": "+c.zone+"\n"+
				"  - origin: other.test.\n    file: other.zone\n", 0o600)
			conf := mustLoad(t, cfg)
			for i, want := range []any{c.wantZone, c.wantGlobal} {
				p, err := zonePolicy(conf, conf.Zones[i])
				if err != nil {
					t.Fatal(err)
				}
				if got := c.get(p); !reflect.DeepEqual(got, want) {
					t.Errorf("zone %s: %s is %v, want %v", conf.Zones[i].Origin, key, got, want)
				}
			}
		})
	}
}
