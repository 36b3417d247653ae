package keymgr

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/keystore"
)

// metrics are Route 53's DNSSEC CloudWatch metrics, per zone, plus signatures made. They are
// a prometheus.Collector computed at scrape time, from each zone's last published view and
// the Manager's clock: ages grow between runs of the loop, which may sleep for hours.
type metrics struct {
	m               *Manager
	internalFailure *prometheus.Desc
	needingAction   *prometheus.Desc
	maxNeedingAge   *prometheus.Desc
	kskAge          *prometheus.Desc
	premadeExpiry   *prometheus.Desc
}

var _ prometheus.Collector = (*metrics)(nil)

func newMetrics(m *Manager, reg prometheus.Registerer) *metrics {
	zone := []string{"zone"}
	mt := &metrics{
		m: m,
		internalFailure: prometheus.NewDesc("signet_dnssec_internal_failure",
			"1 when the zone's DNSSEC status is INTERNAL_FAILURE, else 0 (Route 53's DNSSECInternalFailure).", zone, nil),
		needingAction: prometheus.NewDesc("signet_dnssec_ksks_needing_action",
			"Number of the zone's KSKs with status ACTION_NEEDED (Route 53's DNSSECKeySigningKeysNeedingAction).", zone, nil),
		maxNeedingAge: prometheus.NewDesc("signet_dnssec_ksk_max_needing_action_age_seconds",
			"Seconds since the longest-failing KSK of the zone turned ACTION_NEEDED, 0 when none (Route 53's DNSSECKeySigningKeyMaxNeedingActionAge).", zone, nil),
		kskAge: prometheus.NewDesc("signet_dnssec_ksk_age_seconds",
			"Age of the zone's oldest ACTIVE KSK since creation (Route 53's DNSSECKeySigningKeyAge).", zone, nil),
		premadeExpiry: prometheus.NewDesc("signet_dnssec_premade_signature_expiry_seconds",
			"Seconds until the pre-made KSK signatures in use run out: the zone goes bogus then if its KSK still cannot sign.", zone, nil),
	}
	if reg == nil {
		return mt
	}
	reg.MustRegister(mt)
	// signet_signatures_made_total{backend}: the keystores count what their signers made.
	stores := map[string]keystore.Store{"software": m.cfg.Soft}
	if m.cfg.TPM != nil {
		stores["tpm"] = m.cfg.TPM
	}
	for backend, s := range stores {
		c, ok := s.(keystore.SignatureCounter)
		if !ok {
			continue
		}
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "signet_signatures_made_total",
			Help:        "Signatures made with keys of each keystore backend.",
			ConstLabels: prometheus.Labels{"backend": backend},
		}, func() float64 { return float64(c.Signatures()) }))
	}
	return mt
}

// update publishes the zone's current view for the collector; call with z.mu held, after
// every change.
func (mt *metrics) update(z *zone) { z.shown.Store(z.view()) }

// Describe implements prometheus.Collector.
func (mt *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mt.internalFailure, mt.needingAction, mt.maxNeedingAge, mt.kskAge, mt.premadeExpiry} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one value of each metric per zone, at the
// Manager's now. It takes no zone lock.
func (mt *metrics) Collect(ch chan<- prometheus.Metric) {
	now := mt.m.cfg.Now()
	for name, z := range *mt.m.zones.Load() {
		v := z.shown.Load()
		if v == nil {
			continue
		}
		vals := v.gauges(now)
		for _, g := range []struct {
			d *prometheus.Desc
			v float64
		}{
			{mt.internalFailure, vals.internalFailure},
			{mt.needingAction, vals.needing},
			{mt.maxNeedingAge, vals.maxNeedingAge},
			{mt.kskAge, vals.kskAge},
			{mt.premadeExpiry, vals.premadeExpiry},
		} {
			ch <- prometheus.MustNewConstMetric(g.d, prometheus.GaugeValue, g.v, name)
		}
	}
}

// gaugeValues are one zone's metric values at an instant.
type gaugeValues struct {
	internalFailure, needing, maxNeedingAge, kskAge, premadeExpiry float64
}

// gauges computes the zone's metric values at now.
func (v *view) gauges(now time.Time) gaugeValues {
	var g gaugeValues
	status, _ := v.status(now)
	g.internalFailure = b2f(status == StatusInternalFailure)
	var maxAge, kskAge time.Duration
	for _, d := range v.kskDetails(now) {
		if d.status == StatusActionNeeded {
			g.needing++
			maxAge = max(maxAge, now.Sub(d.since))
		}
		if d.k.InDNSKEY(now) {
			kskAge = max(kskAge, now.Sub(d.k.Created))
		}
	}
	g.maxNeedingAge, g.kskAge = maxAge.Seconds(), kskAge.Seconds()
	if !v.until.IsZero() {
		g.premadeExpiry = v.until.Sub(now).Seconds()
	}
	return g
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
