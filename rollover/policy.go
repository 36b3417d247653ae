package rollover

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults for the zero fields of Policy.
const (
	DefaultZSKLifetime       = 30 * 24 * time.Hour
	DefaultKSKLifetime       = 365 * 24 * time.Hour
	DefaultPropagationDelay  = 5 * time.Minute
	DefaultDNSKEYTTL         = time.Hour
	DefaultMaxZoneTTL        = 24 * time.Hour
	DefaultParentDSTTL       = 24 * time.Hour
	DefaultParentPropagation = time.Hour
	DefaultDSCheckInterval   = time.Hour
	DefaultDSWaitLimit       = 7 * 24 * time.Hour
)

// WithDefaults returns p with every zero field set to its default.
func (p Policy) WithDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&p.ZSKLifetime, DefaultZSKLifetime)
	def(&p.KSKLifetime, DefaultKSKLifetime)
	def(&p.PropagationDelay, DefaultPropagationDelay)
	def(&p.DNSKEYTTL, DefaultDNSKEYTTL)
	def(&p.MaxZoneTTL, DefaultMaxZoneTTL)
	def(&p.ParentDSTTL, DefaultParentDSTTL)
	def(&p.ParentPropagation, DefaultParentPropagation)
	def(&p.DSCheckInterval, DefaultDSCheckInterval)
	def(&p.DSWaitLimit, DefaultDSWaitLimit)
	return p
}

// Validate reports a field that makes no sense. Lifetimes may be negative (never roll); every
// other duration must not be.
func (p Policy) Validate() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"propagation-delay", p.PropagationDelay}, {"dnskey-ttl", p.DNSKEYTTL}, {"max-zone-ttl", p.MaxZoneTTL},
		{"parent-ds-ttl", p.ParentDSTTL}, {"parent-propagation", p.ParentPropagation},
		{"ds-check-interval", p.DSCheckInterval}, {"ds-wait-limit", p.DSWaitLimit},
	} {
		if f.d < 0 {
			return fmt.Errorf("rollover: %s is negative (%v)", f.name, f.d)
		}
	}
	return nil
}

// PublishInterval is RFC 7583 §3.2.1's Ipub = Dprp + TTLkey: how long a new key must be in the
// DNSKEY RRset before every DNSKEY RRset a resolver may hold contains it.
func (p Policy) PublishInterval() time.Duration {
	p = p.WithDefaults()
	return p.PropagationDelay + p.DNSKEYTTL
}

// RetireInterval is RFC 7583 §3.2.1's Iret = Dprp + TTLsig: how long a retired ZSK stays
// published so that every signature it made has left every cache. An online signer makes no
// signature with a retired key, so the signature validity period does not enter: a cached
// RRSIG lives at most its TTL, which is its RRset's TTL (RFC 4035 §2.2).
func (p Policy) RetireInterval() time.Duration {
	p = p.WithDefaults()
	return p.PropagationDelay + p.MaxZoneTTL
}

// DSSwapInterval is how long after the parent's DS change was seen at every parent server the
// old KSK must stay: the parent's propagation margin plus the DS TTL, so that no resolver holds
// a DS RRset naming only the old key (RFC 7583 §3.3.2, Dprp(parent) + TTLds).
func (p Policy) DSSwapInterval() time.Duration {
	p = p.WithDefaults()
	return p.ParentPropagation + p.ParentDSTTL
}

// Route53ZSKLifetime draws a ZSK lifetime uniformly between 7 and 30 days, whole hours, like
// Route 53's rotation. Randomness is drawn at the edge, not in the planner: keymgr calls it once per
// zone with the preset and stores the result, so the planner stays deterministic.
func Route53ZSKLifetime(r *rand.Rand) time.Duration {
	const lo, hi = 7 * 24, 30 * 24 // hours
	return time.Duration(lo+r.IntN(hi-lo+1)) * time.Hour
}
