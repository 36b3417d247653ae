package keymgr

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/signer/rollover"
)

// metrics are Route 53's DNSSEC CloudWatch metrics, per zone, plus signatures made.
type metrics struct {
	internalFailure *prometheus.GaugeVec
	needingAction   *prometheus.GaugeVec
	maxNeedingAge   *prometheus.GaugeVec
	kskAge          *prometheus.GaugeVec
	premadeExpiry   *prometheus.GaugeVec
}

func newMetrics(m *Manager, reg prometheus.Registerer) *metrics {
	zone := []string{"zone"}
	mt := &metrics{
		internalFailure: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signet_dnssec_internal_failure",
			Help: "1 when the zone's DNSSEC status is INTERNAL_FAILURE, else 0 (Route 53's DNSSECInternalFailure).",
		}, zone),
		needingAction: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signet_dnssec_ksks_needing_action",
			Help: "Number of the zone's KSKs with status ACTION_NEEDED (Route 53's DNSSECKeySigningKeysNeedingAction).",
		}, zone),
		maxNeedingAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signet_dnssec_ksk_max_needing_action_age_seconds",
			Help: "Seconds since the longest-failing KSK of the zone turned ACTION_NEEDED, 0 when none (Route 53's DNSSECKeySigningKeyMaxNeedingActionAge).",
		}, zone),
		kskAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signet_dnssec_ksk_age_seconds",
			Help: "Age of the zone's oldest ACTIVE KSK since creation (Route 53's DNSSECKeySigningKeyAge).",
		}, zone),
		premadeExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signet_dnssec_premade_signature_expiry_seconds",
			Help: "Seconds until the pre-made KSK signatures in use run out: the zone goes bogus then if its KSK still cannot sign.",
		}, zone),
	}
	if reg == nil {
		return mt
	}
	reg.MustRegister(mt.internalFailure, mt.needingAction, mt.maxNeedingAge, mt.kskAge, mt.premadeExpiry)
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

// update sets the zone's gauges from its state at now; call with z.mu held.
func (mt *metrics) update(z *zone, now time.Time) {
	status, _ := z.status(now)
	mt.internalFailure.WithLabelValues(z.name).Set(b2f(status == StatusInternalFailure))
	var needing int
	var maxAge, kskAge time.Duration
	if z.st != nil {
		ps := z.planStatus(now)
		for _, k := range z.st.KSKs {
			var ks rollover.KeyStatus
			for _, s := range ps.Keys {
				if s.ID == k.ID {
					ks = s
				}
			}
			if s, _ := kskStatus(k, ks, now); s == StatusActionNeeded {
				needing++
				since := ks.NeedsActionSince
				if k.Failure != "" && (since.IsZero() || k.FailingSince.Before(since)) {
					since = k.FailingSince
				}
				maxAge = max(maxAge, now.Sub(since))
			}
			if k.InDNSKEY(now) {
				kskAge = max(kskAge, now.Sub(k.Created))
			}
		}
	}
	mt.needingAction.WithLabelValues(z.name).Set(float64(needing))
	mt.maxNeedingAge.WithLabelValues(z.name).Set(maxAge.Seconds())
	mt.kskAge.WithLabelValues(z.name).Set(kskAge.Seconds())
	var expiry time.Duration
	if until := z.premadeUntil(); !until.IsZero() {
		expiry = until.Sub(now)
	}
	mt.premadeExpiry.WithLabelValues(z.name).Set(expiry.Seconds())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
