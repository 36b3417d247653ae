package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/server"
)

// TestReadinessHeldZone: a zone the key manager withholds (a cluster member whose ring is not
// the cluster's) makes /readyz not ready, naming the zone and the SERVFAIL; released, ready.
func TestReadinessHeldZone(t *testing.T) {
	dir := t.TempDir()
	zone := writeFile(t, dir, "h.zone", "$ORIGIN h.test.\n$TTL 300\n@ IN SOA ns1 host 1 7200 3600 1209600 300\n@ IN NS ns1\nns1 IN A 192.0.2.53\n", 0o644)
	c := mustLoad(t, writeFile(t, dir, "c.yaml", "state: "+filepath.Join(dir, "state")+"\ndnssec: {enabled: true}\nzones: [{origin: h.test., file: "+zone+"}]\n", 0o600))
	log := slog.New(slog.DiscardHandler)
	ctx := context.Background()
	dn, err := setupDNSSEC(ctx, c, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	defer dn.Close()
	zs := server.NewZoneSet(log, dn.Signed)
	if err := zs.Add(server.ZoneFile{Origin: "h.test.", Path: zone}); err != nil {
		t.Fatal(err)
	}
	if err := dn.Start(ctx, c, zs); err != nil {
		t.Fatal(err)
	}
	ready := readiness(zs, dn)
	if rd := ready(); !rd.Ready {
		t.Fatalf("not ready before the hold: %+v", rd)
	}
	mgr := dn.Keys().(*keymgr.Manager)
	if err := mgr.Hold("h.test.", "key ring behind the cluster's: ask another name server"); err != nil {
		t.Fatal(err)
	}
	rd := ready()
	if rd.Ready || len(rd.Zones) != 1 || rd.Zones[0].Zone != "h.test." || !strings.Contains(rd.Zones[0].Reason, "SERVFAIL, EDE 14") {
		t.Errorf("held zone: %+v, want not ready, the zone's reason naming the SERVFAIL", rd)
	}
	if err := mgr.Hold("h.test.", ""); err != nil {
		t.Fatal(err)
	}
	if rd := ready(); !rd.Ready {
		t.Errorf("not ready after the hold ended: %+v", rd)
	}
}
