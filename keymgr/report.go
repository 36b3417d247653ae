package keymgr

import (
	"time"

	"github.com/signetdns/signet/rollover"
)

// ZoneHealth is one zone's DNSSEC health at an instant: Route 53's DNSSEC CloudWatch
// metrics, plus how long the pre-made KSK signatures in use still last.
type ZoneHealth struct {
	Zone string
	// InternalFailure: the zone's status is INTERNAL_FAILURE (DNSSECInternalFailure).
	InternalFailure bool
	// KSKsNeedingAction counts the KSKs with status ACTION_NEEDED
	// (DNSSECKeySigningKeysNeedingAction).
	KSKsNeedingAction int
	// MaxNeedingActionAge is how long the longest-failing KSK has been ACTION_NEEDED, 0 when
	// none is (DNSSECKeySigningKeyMaxNeedingActionAge).
	MaxNeedingActionAge time.Duration
	// KSKAge is the age of the oldest KSK in the DNSKEY RRset since its creation
	// (DNSSECKeySigningKeyAge).
	KSKAge time.Duration
	// PremadeExpiry is the time until the served ring's pre-made KSK signatures run out (the
	// zone goes bogus then if its KSK still cannot sign); 0 when no ring is served.
	PremadeExpiry time.Duration
	// RolloverActions counts the rollover actions carried out since start, by kind
	// ("create-zsk", "create-ksk", "check-parent-ds", "swap-ksk", "delete").
	RolloverActions map[string]uint64
	// NextZSKRollover and NextKSKRollover are when the next rollover of each role is due
	// (zero: none planned).
	NextZSKRollover, NextKSKRollover time.Time
}

// Now returns the Manager's clock reading, the instant to pass to Health.
func (m *Manager) Now() time.Time { return m.cfg.Now() }

// Health returns every zone's health at now, computed from the view each zone last
// published: it takes no zone lock, so that a metrics scrape never waits for a step that is
// itself waiting for a TPM that does not answer. Ages grow between runs of the loop, which
// may sleep for hours.
func (m *Manager) Health(now time.Time) []ZoneHealth {
	zones := m.all()
	out := make([]ZoneHealth, 0, len(zones))
	for _, z := range zones {
		if v := z.shown.Load(); v != nil {
			out = append(out, v.health(now))
		}
	}
	return out
}

// publish makes the zone's current view the one Health reads; call with z.mu held, after
// every change.
func (z *zone) publish() { z.shown.Store(z.view()) }

// health computes the zone's health at now.
func (v *view) health(now time.Time) ZoneHealth {
	h := ZoneHealth{Zone: v.z.name}
	status, _ := v.status(now)
	h.InternalFailure = status == StatusInternalFailure
	for _, d := range v.kskDetails(now) {
		if d.status == StatusActionNeeded {
			h.KSKsNeedingAction++
			h.MaxNeedingActionAge = max(h.MaxNeedingActionAge, now.Sub(d.since))
		}
		if d.k.InDNSKEY(now) {
			h.KSKAge = max(h.KSKAge, now.Sub(d.k.Created))
		}
	}
	if !v.until.IsZero() {
		h.PremadeExpiry = v.until.Sub(now)
	}
	h.RolloverActions = map[string]uint64{}
	for k := rollover.CreateZSK; k <= rollover.Delete; k++ {
		h.RolloverActions[k.String()] = v.z.actions[k].Load()
	}
	ps := v.planStatus(now)
	h.NextZSKRollover, h.NextKSKRollover = ps.NextZSKRollover, ps.NextKSKRollover
	return h
}
