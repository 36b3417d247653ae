package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/signer"
)

// TestZoneSettingsReachKeyManagerAndSigner wires two zones as serve does (real keystore, key
// manager and signer; quick start) with one zone overriding the global signing settings, and
// checks what each zone really serves: algorithm, DNSKEY TTL, CDS, denial mode, signature
// validity, and the rollover policy the key manager reports.
func TestZoneSettingsReachKeyManagerAndSigner(t *testing.T) {
	dir := t.TempDir()
	zoneText := func(origin string) string {
		return "$ORIGIN " + origin + "\n$TTL 300\n@ IN SOA ns1 host 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n"
	}
	own := writeFile(t, dir, "own.zone", zoneText("own.test."), 0o644)
	other := writeFile(t, dir, "other.zone", zoneText("other.test."), 0o644)
	cfg := writeFile(t, dir, "c.yaml", `state: `+filepath.Join(dir, "state")+`
dnssec:
  enabled: true
  algorithm: ECDSAP256SHA256
  dnskey_ttl: 3600
  validity: 100h
  denial: compact
  zsk_lifetime: 720h
zones:
  - origin: own.test.
    file: `+own+`
    algorithm: ED25519
    dnskey_ttl: 60
    cds: true
    validity: 60h
    refresh: 20h
    denial: whitelies
    zsk_lifetime: 10h
    ksk_rollover: automatic
    ksk_lifetime: 100h
  - origin: other.test.
    file: `+other+`
`, 0o600)
	c := mustLoad(t, cfg)
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	dn, err := setupDNSSEC(ctx, c, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close()
	zs := server.NewZoneSet(log, dn.Signed)
	for _, z := range c.Zones {
		if err := zs.Add(server.ZoneFile{Origin: z.Origin, Path: z.File}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dn.Start(ctx, c, zs); err != nil {
		t.Fatal(err)
	}
	mgr := dn.Keys().(*keymgr.Manager)
	for _, tc := range []struct {
		zone     string
		alg      uint8
		ttl      uint32
		cds      bool
		mode     signer.Mode
		validity time.Duration
		ksk, zsk string
	}{
		{"own.test.", dns.ED25519, 60, true, signer.WhiteLies, 60 * time.Hour, "automatic", "10h0m0s"},
		{"other.test.", dns.ECDSAP256SHA256, 3600, false, signer.Compact, 100 * time.Hour, "manual", "720h0m0s"},
	} {
		ring, mode, ok := mgr.Signing(tc.zone)
		if !ok {
			t.Fatalf("%s not signed", tc.zone)
		}
		for _, rr := range ring.DNSKEYs() {
			k := rr.(*dns.DNSKEY)
			if k.Algorithm != tc.alg || k.Hdr.Ttl != tc.ttl {
				t.Errorf("%s: DNSKEY algorithm %d TTL %d, want %d and %d", tc.zone, k.Algorithm, k.Hdr.Ttl, tc.alg, tc.ttl)
			}
		}
		if got := len(ring.CDS()) > 0; got != tc.cds {
			t.Errorf("%s: CDS published %v, want %v", tc.zone, got, tc.cds)
		}
		if mode != tc.mode {
			t.Errorf("%s: denial mode %d, want %d", tc.zone, mode, tc.mode)
		}
		now := time.Now()
		m := new(dns.Msg)
		m.SetQuestion("ns1."+tc.zone, dns.TypeA)
		a, _ := dns.NewRR("ns1." + tc.zone + " 300 IN A 192.0.2.1")
		m.Answer = []dns.RR{a}
		in := &signer.Input{Zone: tc.zone, Mode: mode, Kind: signer.Answer, QName: "ns1." + tc.zone, QType: dns.TypeA, Name: "ns1." + tc.zone, DO: true}
		if err := dn.Signer().(*signer.Signer).Sign(m, in, ring, now); err != nil {
			t.Fatal(err)
		}
		sig, ok := m.Answer[len(m.Answer)-1].(*dns.RRSIG)
		if !ok {
			t.Fatalf("%s: no RRSIG in %v", tc.zone, m.Answer)
		}
		// Expiration = now + validity - jitter (under 1h).
		if left := time.Unix(int64(sig.Expiration), 0).Sub(now); left > tc.validity || left < tc.validity-signer.DefaultJitter-time.Second {
			t.Errorf("%s: signature valid for %v more, want about %v", tc.zone, left, tc.validity)
		}
		d, err := mgr.GetDNSSEC(ctx, tc.zone)
		if err != nil {
			t.Fatal(err)
		}
		if d.Rollover.KSKRollover != tc.ksk || d.Rollover.ZSKLifetime != tc.zsk {
			t.Errorf("%s: rollover %s, ZSK lifetime %s; want %s, %s", tc.zone, d.Rollover.KSKRollover, d.Rollover.ZSKLifetime, tc.ksk, tc.zsk)
		}
		if tc.ksk == "automatic" {
			// ksk_lifetime: the next KSK rollover is due 100h after the KSK became active.
			if due := time.Until(d.Rollover.NextKSKRollover); due > 100*time.Hour || due < 99*time.Hour {
				t.Errorf("%s: next KSK rollover in %v, want about 100h", tc.zone, due)
			}
		}
	}
}

// TestStartZonesFirstError: zones start concurrently, and the error is the first failing
// zone's in configuration order even when a later zone fails sooner; every zone before it
// started, and none is started after a failure is known.
func TestStartZonesFirstError(t *testing.T) {
	zs := make([]zoneConfig, 40)
	for i := range zs {
		zs[i].Origin = fmt.Sprintf("z%02d.test.", i)
	}
	var mu sync.Mutex
	started := map[string]bool{}
	err := startZones(zs, 4, func(z zoneConfig) error {
		mu.Lock()
		started[z.Origin] = true
		mu.Unlock()
		switch z.Origin {
		case "z05.test.":
			time.Sleep(50 * time.Millisecond) // fails after z07 has
			return errors.New("five")
		case "z07.test.":
			return errors.New("seven")
		}
		if z.Origin > "z07.test." {
			time.Sleep(20 * time.Millisecond) // so that all could not start before the failure is seen
		}
		return nil
	})
	if err == nil || err.Error() != "five" {
		t.Fatalf("error %v, want the first zone's in order (five)", err)
	}
	for i := range 8 {
		if !started[zs[i].Origin] {
			t.Errorf("%s, before the failing zones, was not started", zs[i].Origin)
		}
	}
	if len(started) == len(zs) {
		t.Errorf("all %d zones started: starting went on after a zone failed", len(started))
	}
	if err := startZones(zs, 4, func(zoneConfig) error { return nil }); err != nil {
		t.Errorf("no zone failed, error %v", err)
	}
}
