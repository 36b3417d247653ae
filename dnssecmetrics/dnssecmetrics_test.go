package dnssecmetrics

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/memory"
	filestate "github.com/signetdns/signet/statestore/file"
)

// fixed is a Source with set values, and the instant it was asked for.
type fixed struct {
	now   time.Time
	asked time.Time
	zones []keymgr.ZoneHealth
}

func (f *fixed) Now() time.Time { return f.now }

func (f *fixed) Health(now time.Time) []keymgr.ZoneHealth {
	f.asked = now
	return f.zones
}

// gather registers src and stores on a fresh registry and returns every sample by metric
// name and its zone or backend label.
func gather(t *testing.T, src Source, stores map[string]keystore.Store) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, src, stores); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "/" + l.GetValue()
			}
			if c := m.GetCounter(); c != nil {
				out[key] = c.GetValue()
			} else {
				out[key] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestGauges: each ZoneHealth field becomes its gauge, in seconds, per zone, read at the
// Source's clock.
func TestGauges(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	src := &fixed{now: now, zones: []keymgr.ZoneHealth{
		{Zone: "a.test.", InternalFailure: true},
		{Zone: "b.test.", KSKsNeedingAction: 2, MaxNeedingActionAge: 90 * time.Second, KSKAge: time.Hour, PremadeExpiry: 2 * time.Minute,
			RolloverActions: map[string]uint64{"create-zsk": 4, "delete": 3}, NextZSKRollover: now.Add(time.Hour)},
	}}
	got := gather(t, src, nil)
	want := map[string]float64{
		"signet_dnssec_internal_failure/a.test.":                   1,
		"signet_dnssec_ksks_needing_action/a.test.":                0,
		"signet_dnssec_ksk_max_needing_action_age_seconds/a.test.": 0,
		"signet_dnssec_ksk_age_seconds/a.test.":                    0,
		"signet_dnssec_premade_signature_expiry_seconds/a.test.":   0,
		"signet_dnssec_internal_failure/b.test.":                   0,
		"signet_dnssec_ksks_needing_action/b.test.":                2,
		"signet_dnssec_ksk_max_needing_action_age_seconds/b.test.": 90,
		"signet_dnssec_ksk_age_seconds/b.test.":                    3600,
		"signet_dnssec_premade_signature_expiry_seconds/b.test.":   120,
		// Labels come sorted by name: action before zone, role before zone.
		"signet_dnssec_rollover_actions_total/create-zsk/b.test.":   4,
		"signet_dnssec_rollover_actions_total/delete/b.test.":       3,
		"signet_dnssec_next_rollover_timestamp_seconds/ZSK/b.test.": float64(now.Add(time.Hour).Unix()),
	}
	if len(got) != len(want) {
		t.Errorf("%d samples, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if !src.asked.Equal(now) {
		t.Errorf("Health asked at %s, want the Source's now %s", src.asked, now)
	}
}

// TestManager: wired to a real key manager with a quick-start zone, the gauges report the
// zone at the manager's clock and the software keystore's counter counts the pre-made
// signatures it made.
func TestManager(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := now
	soft := memory.New()
	state, err := filestate.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m, err := keymgr.New(keymgr.Config{State: state, Soft: soft, Now: func() time.Time { return clock }, KSKCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddZone(context.Background(), "example.test.", keymgr.ZonePolicy{QuickStart: true}); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(time.Hour)
	got := gather(t, m, map[string]keystore.Store{"software": soft})
	if v := got["signet_dnssec_ksk_age_seconds/example.test."]; v != 3600 {
		t.Errorf("KSK age %v an hour after the quick start, want 3600", v)
	}
	if v := got["signet_dnssec_premade_signature_expiry_seconds/example.test."]; v < 14*24*3600 {
		t.Errorf("pre-made expiry %v s, want at least two weeks", v)
	}
	if v := got["signet_dnssec_ksks_needing_action/example.test."]; v != 0 {
		t.Errorf("KSKs needing action %v, want 0", v)
	}
	if v := got["signet_signatures_made_total/software"]; v < 15 {
		t.Errorf("signatures made %v, want at least the 15 pre-made ones", v)
	}
}

// TestKeystoreLatency: wired into a real key manager, every signature its keys make (here
// the quick-start KSK's pre-made DNSKEY signatures, in the software store) is timed under
// its store and algorithm.
func TestKeystoreLatency(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	lat, err := NewKeystoreLatency(reg)
	if err != nil {
		t.Fatal(err)
	}
	state, err := filestate.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m, err := keymgr.New(keymgr.Config{State: state, Soft: memory.New(), Now: func() time.Time { return now },
		KSKCheckInterval: -1, ObserveSign: lat.Observe})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddZone(context.Background(), "example.test.", keymgr.ZonePolicy{QuickStart: true}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var samples uint64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["store"] != "soft" || labels["algorithm"] != "13" {
				t.Errorf("a signature timed under %v, want store soft, algorithm 13", labels)
			}
			samples += m.GetHistogram().GetSampleCount()
		}
	}
	if samples < keymgr.PremadeCount {
		t.Errorf("%d signatures timed, want at least the %d pre-made ones", samples, keymgr.PremadeCount)
	}
}
