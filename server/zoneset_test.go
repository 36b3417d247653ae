package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestZoneSetLoadMetrics: loads and failures are counted per zone, the serial is the one
// served, and a failed reload is flagged until a good one.
func TestZoneSetLoadMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.test.zone")
	write := func(serial, extra string) {
		body := "$ORIGIN m.test.\n$TTL 60\n@ SOA ns host " + serial + " 7200 3600 1209600 60\n@ NS ns\nns A 192.0.2.1\n" + extra
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("7", "")
	zs := NewZoneSet(nil, nil)
	reg := prometheus.NewPedanticRegistry()
	if err := zs.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if err := zs.Add(ZoneFile{Origin: "m.test.", Path: path}); err != nil {
		t.Fatal(err)
	}
	write("8", "bad A 999.1.1.1\n")
	if err := zs.Reload(); err == nil {
		t.Fatal("a broken file reloaded")
	}
	check := func(want string) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "signet_zone_loads_total", "signet_zone_serial", "signet_zone_load_failing"); err != nil {
			t.Error(err)
		}
	}
	check(`
# HELP signet_zone_load_failing 1 when the zone's last load failed (its previous version, if any, is still served).
# TYPE signet_zone_load_failing gauge
signet_zone_load_failing{zone="m.test."} 1
# HELP signet_zone_loads_total Loads and reloads of each zone, by result (ok, failed).
# TYPE signet_zone_loads_total counter
signet_zone_loads_total{result="failed",zone="m.test."} 1
signet_zone_loads_total{result="ok",zone="m.test."} 1
# HELP signet_zone_serial SOA serial of the zone as served.
# TYPE signet_zone_serial gauge
signet_zone_serial{zone="m.test."} 7
`)
	if st := zs.Status(); len(st) != 1 || !st[0].Loaded || !st[0].Failing || st[0].Serial != 7 {
		t.Errorf("status after a failed reload: %+v", st)
	}
	write("9", "")
	if err := zs.Reload(); err != nil {
		t.Fatal(err)
	}
	check(`
# HELP signet_zone_load_failing 1 when the zone's last load failed (its previous version, if any, is still served).
# TYPE signet_zone_load_failing gauge
signet_zone_load_failing{zone="m.test."} 0
# HELP signet_zone_loads_total Loads and reloads of each zone, by result (ok, failed).
# TYPE signet_zone_loads_total counter
signet_zone_loads_total{result="failed",zone="m.test."} 1
signet_zone_loads_total{result="ok",zone="m.test."} 2
# HELP signet_zone_serial SOA serial of the zone as served.
# TYPE signet_zone_serial gauge
signet_zone_serial{zone="m.test."} 9
`)
}
