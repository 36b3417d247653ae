package dnssecmetrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signetdns/signet/signer"
)

// TestSignerMetrics: the signer's counters and the latency histogram appear under their
// names, and a latency observation lands in its algorithm's series.
func TestSignerMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	lat, err := NewSignLatency(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := signer.New(signer.Config{ObserveSign: lat.Observe})
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if err := RegisterSigner(reg, s, func() time.Time { return now }); err != nil {
		t.Fatal(err)
	}
	lat.Observe(13, 40*time.Microsecond)
	lat.Observe(13, 60*time.Microsecond)
	lat.Observe(253, time.Millisecond) // a private algorithm: resolved on the fly
	want := `
# HELP signet_signature_cache_evictions_total Cached signatures pushed out by newer ones (the cache is smaller than the working set when this grows fast).
# TYPE signet_signature_cache_evictions_total counter
signet_signature_cache_evictions_total 0
# HELP signet_signature_cache_entries Signatures held, by cache (main: the zone's data; denial: per-query-name denial records).
# TYPE signet_signature_cache_entries gauge
signet_signature_cache_entries{cache="denial"} 0
signet_signature_cache_entries{cache="main"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "signet_signature_cache_evictions_total", "signet_signature_cache_entries"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(lat.vec); n != 6 {
		t.Errorf("%d latency series, want 6 (the five usual algorithms, resolved in advance, and 253)", n)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "signet_signing_duration_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			if m.Label[0].GetValue() == "13" && m.Histogram.GetSampleCount() != 2 {
				t.Errorf("algorithm 13: %d samples, want 2", m.Histogram.GetSampleCount())
			}
		}
	}
	// Nothing served yet: no earliest-expiry sample rather than a made-up one.
	if n := testutil.CollectAndCount(reg, "signet_signature_earliest_expiry_seconds"); n != 0 {
		t.Errorf("earliest expiry reported before any signature was served")
	}
}
