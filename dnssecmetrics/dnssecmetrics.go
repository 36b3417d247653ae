package dnssecmetrics

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore"
)

// Source reports each zone's DNSSEC health at an instant, and its clock; *keymgr.Manager
// implements it. Health must not block on a zone's work: it runs on every scrape.
type Source interface {
	Now() time.Time
	Health(now time.Time) []keymgr.ZoneHealth
}

var _ Source = (*keymgr.Manager)(nil)

// collector computes the per-zone gauges at scrape time, at the Source's now: ages grow
// between runs of the key manager's loop, which may sleep for hours.
type collector struct {
	src                                                                  Source
	internalFailure, needingAction, maxNeedingAge, kskAge, premadeExpiry *prometheus.Desc
	rolloverActions, nextRollover                                        *prometheus.Desc
	unreadable                                                           *prometheus.Desc
}

// UnreadableSource is implemented by a Source that also reports, by keystore, how many
// entries its last listing of every zone's keys could not read (*keymgr.Manager does).
type UnreadableSource interface {
	UnreadableKeys() map[string]int
}

var _ UnreadableSource = (*keymgr.Manager)(nil)

var _ prometheus.Collector = (*collector)(nil)

func newCollector(src Source) *collector {
	zone := []string{"zone"}
	return &collector{
		src: src,
		internalFailure: prometheus.NewDesc("signet_dnssec_internal_failure",
			"1 when the zone's DNSSEC status is INTERNAL_FAILURE, else 0 (Route 53's DNSSECInternalFailure).", zone, nil),
		needingAction: prometheus.NewDesc("signet_dnssec_ksks_needing_action",
			"Number of the zone's KSKs with status ACTION_NEEDED (Route 53's DNSSECKeySigningKeysNeedingAction).", zone, nil),
		maxNeedingAge: prometheus.NewDesc("signet_dnssec_ksk_max_needing_action_age_seconds",
			"Seconds since the longest-failing KSK of the zone turned ACTION_NEEDED, 0 when none (Route 53's DNSSECKeySigningKeyMaxNeedingActionAge).", zone, nil),
		kskAge: prometheus.NewDesc("signet_dnssec_ksk_age_seconds",
			"Age of the zone's oldest ACTIVE KSK since creation (Route 53's DNSSECKeySigningKeyAge).", zone, nil),
		rolloverActions: prometheus.NewDesc("signet_dnssec_rollover_actions_total",
			"Rollover steps the key manager carried out since start, by action: create-zsk and create-ksk start a rollover, check-parent-ds asks the parent for the DS, swap-ksk schedules the new KSK, delete removes a rolled-out key.", []string{"zone", "action"}, nil),
		nextRollover: prometheus.NewDesc("signet_dnssec_next_rollover_timestamp_seconds",
			"When the zone's next rollover of each role is due (Unix time; absent when none is planned).", []string{"zone", "role"}, nil),
		unreadable: prometheus.NewDesc("signet_keystore_unreadable_entries",
			"Entries (key metadata files or etcd values) that the key manager's last listing of a keystore could not read: left out, their keys neither used nor deleted until repaired. store is soft (the software keys: the file keystore, or a cluster's shared etcd keystore) or tpm.", []string{"store"}, nil),
		premadeExpiry: prometheus.NewDesc("signet_dnssec_premade_signature_expiry_seconds",
			"Seconds until the pre-made KSK signatures in use run out: the zone goes bogus then if its KSK still cannot sign.", zone, nil),
	}
}

// Register registers the per-zone DNSSEC gauges read from src and, for each keystore in
// stores (by backend label: "software", "tpm") that counts its signatures, the counter
// signet_signatures_made_total{backend}.
func Register(reg prometheus.Registerer, src Source, stores map[string]keystore.Store) error {
	if err := reg.Register(newCollector(src)); err != nil {
		return fmt.Errorf("dnssecmetrics: %w", err)
	}
	for backend, s := range stores {
		c, ok := s.(keystore.SignatureCounter)
		if !ok {
			continue
		}
		err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "signet_signatures_made_total",
			Help:        "Signatures made with keys of each keystore backend.",
			ConstLabels: prometheus.Labels{"backend": backend},
		}, func() float64 { return float64(c.Signatures()) }))
		if err != nil {
			return fmt.Errorf("dnssecmetrics: %w", err)
		}
	}
	return nil
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.internalFailure, c.needingAction, c.maxNeedingAge, c.kskAge, c.premadeExpiry, c.rolloverActions, c.nextRollover, c.unreadable} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one value of each gauge per zone, and the
// unreadable keystore entries by store.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	if u, ok := c.src.(UnreadableSource); ok {
		for store, n := range u.UnreadableKeys() {
			ch <- prometheus.MustNewConstMetric(c.unreadable, prometheus.GaugeValue, float64(n), store)
		}
	}
	for _, h := range c.src.Health(c.src.Now()) {
		for _, g := range []struct {
			d *prometheus.Desc
			v float64
		}{
			{c.internalFailure, b2f(h.InternalFailure)},
			{c.needingAction, float64(h.KSKsNeedingAction)},
			{c.maxNeedingAge, h.MaxNeedingActionAge.Seconds()},
			{c.kskAge, h.KSKAge.Seconds()},
			{c.premadeExpiry, h.PremadeExpiry.Seconds()},
		} {
			ch <- prometheus.MustNewConstMetric(g.d, prometheus.GaugeValue, g.v, h.Zone)
		}
		for action, n := range h.RolloverActions {
			ch <- prometheus.MustNewConstMetric(c.rolloverActions, prometheus.CounterValue, float64(n), h.Zone, action)
		}
		for role, at := range map[string]time.Time{"ZSK": h.NextZSKRollover, "KSK": h.NextKSKRollover} {
			if !at.IsZero() {
				ch <- prometheus.MustNewConstMetric(c.nextRollover, prometheus.GaugeValue, float64(at.Unix()), h.Zone, role)
			}
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
