package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestZoneSetHold: a zone whose data loaded but which is withheld for another reason (its
// keys) answers SERVFAIL with the Extended DNS Error Not Ready and the reason given, shows
// the error in Status and the failure metric, stays withheld through reloads and added
// records, and is served again once released; the other zone answers throughout.
func TestZoneSetHold(t *testing.T) {
	dir := t.TempDir()
	add := func(zs *ZoneSet, origin string) {
		p := filepath.Join(dir, origin+"zone")
		body := "$ORIGIN " + origin + "\n$TTL 300\n@ SOA ns1 host 7 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.1\nwww A 192.0.2.10\n"
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := zs.Add(ZoneFile{Origin: origin, Path: p}); err != nil {
			t.Fatal(err)
		}
	}
	zs := NewZoneSet(quietLogger(), nil)
	add(zs, "good.test.")
	add(zs, "held.test.")
	reg := prometheus.NewRegistry()
	if err := zs.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	addr := serveZoneSet(t, Config{Listen: []string{"127.0.0.1:0"}, Logger: quietLogger()}, zs).udp

	const reason = "zone's DNSSEC keys failed to load"
	cause := errors.New("zone held.test.: key file 1234.key.age is corrupt")
	if err := zs.Hold("missing.test.", reason, cause); err == nil {
		t.Error("Hold of a zone not configured: no error")
	}
	if err := zs.Hold("HELD.test.", reason, cause); err != nil {
		t.Fatal(err)
	}
	answers := func(name string) *dns.Msg {
		t.Helper()
		return exchange(t, "udp", addr, query(name, dns.TypeA, true))
	}
	held := func(when string) {
		t.Helper()
		r := answers("www.held.test.")
		var ede *dns.EDNS0_EDE
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_EDE); ok {
					ede = e
				}
			}
		}
		if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 || ede == nil ||
			ede.InfoCode != dns.ExtendedErrorCodeNotReady || ede.ExtraText != reason {
			t.Errorf("%s: held zone answered %s with EDE %v, want SERVFAIL, EDE 14 %q", when, dns.RcodeToString[r.Rcode], ede, reason)
		}
		if r := answers("www.good.test."); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Errorf("%s: good zone: %v", when, r)
		}
		st := zs.Status()
		if len(st) != 2 || st[1].Loaded || !st[1].Failing || st[1].Error != cause.Error() || !st[0].Loaded {
			t.Errorf("%s: status %+v", when, st)
		}
		if v := loadFailing(t, reg, "held.test."); v != 1 {
			t.Errorf("%s: signet_zone_load_failing{held.test.} = %v, want 1", when, v)
		}
	}
	held("after Hold")

	if err := zs.ReloadZone("held.test."); !errors.Is(err, cause) {
		t.Errorf("reload of a held zone: %v, want its hold's error", err)
	}
	txt, err := dns.NewRR("_signal.held.test. 300 IN TXT x")
	if err != nil {
		t.Fatal(err)
	}
	if err := zs.SetExtra("held.test.", []dns.RR{txt}); err != nil {
		t.Fatal(err)
	}
	if err := zs.Reload(); err == nil {
		t.Error("reload of every zone with one held: no error")
	}
	held("after reloads and SetExtra")

	// A second Hold replaces the error the next load reports, and counts nothing itself.
	again := errors.New("zone held.test.: still corrupt")
	if err := zs.Hold("held.test.", reason, again); err != nil {
		t.Fatal(err)
	}
	if err := zs.ReloadZone("held.test."); !errors.Is(err, again) {
		t.Errorf("reload after a second Hold: %v", err)
	}

	if err := zs.Release("held.test."); err != nil {
		t.Fatal(err)
	}
	if r := answers("www.held.test."); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("after Release: %v", r)
	}
	if r := exchange(t, "udp", addr, query("_signal.held.test.", dns.TypeTXT, false)); len(r.Answer) != 1 {
		t.Errorf("after Release the records added while held are not served: %v", r)
	}
	if st := zs.Status(); !st[1].Loaded || st[1].Failing || st[1].Error != "" {
		t.Errorf("status after Release: %+v", st[1])
	}
	// Added: 1 ok; Hold, ReloadZone, Reload, ReloadZone: 4 failed; Release: 1 ok.
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP signet_zone_load_failing 1 when the zone's last load failed (its previous version, if any, is still served).
# TYPE signet_zone_load_failing gauge
signet_zone_load_failing{zone="good.test."} 0
signet_zone_load_failing{zone="held.test."} 0
# HELP signet_zone_loads_total Loads and reloads of each zone, by result (ok, failed).
# TYPE signet_zone_loads_total counter
signet_zone_loads_total{result="failed",zone="good.test."} 0
signet_zone_loads_total{result="failed",zone="held.test."} 4
signet_zone_loads_total{result="ok",zone="good.test."} 2
signet_zone_loads_total{result="ok",zone="held.test."} 2
`), "signet_zone_load_failing", "signet_zone_loads_total"); err != nil {
		t.Error(err)
	}
}

// loadFailing is the value of signet_zone_load_failing for zone (-1: none).
func loadFailing(t *testing.T, reg *prometheus.Registry, zone string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "signet_zone_load_failing" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "zone" && l.GetValue() == zone {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}
