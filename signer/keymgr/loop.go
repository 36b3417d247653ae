package keymgr

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/signetdns/signet/keystore"
)

// RolloverPolicy is the ZSK rotation policy: pre-publish rollover (RFC 6781 §4.1.1.1) with
// RFC 7583 §3.2 timings.
type RolloverPolicy struct {
	// ZSKLifetime is how long a ZSK signs before its successor takes over. Default 30 days;
	// negative disables rotation.
	ZSKLifetime time.Duration
	// PropagationDelay is how long a change takes to reach every secondary and resolver
	// cache beyond the TTLs. Default one hour.
	PropagationDelay time.Duration
}

func (p RolloverPolicy) withDefaults() RolloverPolicy {
	if p.ZSKLifetime == 0 {
		p.ZSKLifetime = 30 * 24 * time.Hour
	}
	if p.PropagationDelay <= 0 {
		p.PropagationDelay = time.Hour
	}
	return p
}

// Run is the background loop: it calls Step, then sleeps until the deadline Step returned, or
// until an operation wakes it, or ctx ends. A panic in a step is logged and the loop goes on.
func (m *Manager) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-m.wake:
		}
		next := m.safeStep(ctx)
		d := time.Until(next)
		if next.IsZero() || d > time.Hour {
			d = time.Hour // recheck hourly: clocks jump, zones are added
		}
		timer.Reset(max(d, time.Second))
	}
}

func (m *Manager) safeStep(ctx context.Context) (next time.Time) {
	defer func() {
		if r := recover(); r != nil {
			m.log.Error("key manager step panicked", "panic", r, "stack", string(debug.Stack()))
			next = m.cfg.Now().Add(RetryMin)
		}
	}()
	return m.Step(ctx, m.cfg.Now())
}

// Step does the background work due at now for every zone: it re-makes pre-made KSK
// signatures that are due, retries KSKs that could not sign (an ACTION_NEEDED KSK turns
// ACTIVE again by itself once its signer answers), and executes the ZSK rotation. It
// returns when it next needs to run.
func (m *Manager) Step(ctx context.Context, now time.Time) time.Time {
	var next time.Time
	for _, z := range *m.zones.Load() {
		z.mu.Lock()
		was := z.signed.Load()
		t := m.stepZone(ctx, z, now)
		flipped := was != z.signed.Load()
		m.metrics.update(z, now)
		z.mu.Unlock()
		if flipped {
			m.changed(z.name)
		}
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

// stepZone does one zone's due work; call with z.mu held.
func (m *Manager) stepZone(ctx context.Context, z *zone, now time.Time) time.Time {
	if z.st == nil || !z.st.Signing {
		return time.Time{}
	}
	if z.failure == "" && !z.failing() {
		if err := m.rotate(ctx, z, now); err != nil {
			m.log.Error("ZSK rotation", "zone", z.name, "err", err)
			z.failure = "ZSK rotation: " + err.Error()
		}
	}
	if m.due(z, now) {
		m.refresh(ctx, z, now)
	}
	return m.deadline(z, now)
}

// failing reports whether an ACTIVE KSK is ACTION_NEEDED.
func (z *zone) failing() bool {
	return slices.ContainsFunc(z.st.KSKs, func(k *kskRec) bool { return k.Status == StatusActive && k.Failure != "" })
}

// due reports whether the ring must be rebuilt at now: pre-made signatures a step old, a
// retry after a failure, or a key timeline boundary passed since the ring was made.
func (m *Manager) due(z *zone, now time.Time) bool {
	if z.cur.Load() == nil || !now.Before(z.premadeAt.Add(PremadeStep)) {
		return true
	}
	if !z.retryAt.IsZero() && !now.Before(z.retryAt) {
		return true
	}
	for _, t := range z.boundaries() {
		if t.After(z.premadeAt) && !t.After(now) {
			return true
		}
	}
	return false
}

// boundaries lists the timeline instants at which the ring changes.
func (z *zone) boundaries() []time.Time {
	var ts []time.Time
	add := func(k *keyRec) { ts = append(ts, k.Publish, k.Active, k.Retire, k.Remove) }
	for _, k := range z.st.ZSKs {
		add(k)
	}
	for _, k := range z.st.KSKs {
		add(&k.keyRec)
	}
	return slices.DeleteFunc(ts, time.Time.IsZero)
}

// deadline is the zone's next due time after now.
func (m *Manager) deadline(z *zone, now time.Time) time.Time {
	// While a refresh is failing its retry replaces the (past) refresh time.
	next := z.premadeAt.Add(PremadeStep)
	if !z.retryAt.IsZero() {
		next = z.retryAt
	}
	consider := func(t time.Time) {
		if !t.IsZero() && t.After(now) && t.Before(next) {
			next = t
		}
	}
	for _, t := range z.boundaries() {
		consider(t)
	}
	consider(m.rotationDue(z, now))
	return next
}

// refresh rebuilds the zone's ring at now. When a KSK cannot sign, the served ring stays (its
// pre-made signatures keep the zone valid for days), the KSK turns ACTION_NEEDED and a retry
// is scheduled with back-off; when it signs again its ACTION_NEEDED clears.
func (m *Manager) refresh(ctx context.Context, z *zone, now time.Time) {
	next := z.st.clone()
	ring, err := m.build(ctx, z, next, now)
	changed := markFailures(next, err, now)
	var kf *kskFailure
	switch {
	case err == nil:
		z.install(ring, next.Signing, now)
		z.failure = ""
		z.retryAt, z.backoff = time.Time{}, 0
	case errors.As(err, &kf):
		m.log.Warn("KSK cannot sign; serving pre-made signatures", "zone", z.name, "ksk", kf.names, "err", kf.err,
			"valid_until", z.premadeUntil())
		m.scheduleRetry(z, now)
	default:
		m.log.Error("build key ring", "zone", z.name, "err", err)
		z.failure = err.Error()
		m.scheduleRetry(z, now)
	}
	if changed {
		next.Modified = now
		if err := m.states.save(next); err != nil {
			m.log.Error("save state", "zone", z.name, "err", err)
			z.failure = err.Error()
			return
		}
		z.st = next
	}
}

func (m *Manager) scheduleRetry(z *zone, now time.Time) {
	z.backoff = min(max(2*z.backoff, RetryMin), RetryMax)
	z.retryAt = now.Add(z.backoff)
}

// premadeUntil is when the served ring's pre-made KSK signatures run out (zero: no ring).
func (z *zone) premadeUntil() time.Time {
	if r := z.ring(); r != nil {
		return r.PremadeValidUntil()
	}
	return time.Time{}
}

// currentZSK returns the newest ZSK active at now with no successor planned, or nil.
func (z *zone) currentZSK(now time.Time) *keyRec {
	var cur *keyRec
	for _, k := range z.st.ZSKs {
		if k.active(now) && k.Retire.IsZero() && (cur == nil || k.Active.After(cur.Active)) {
			cur = k
		}
	}
	return cur
}

// rotationDue is when the current ZSK's successor must be published: its lifetime minus the
// publish interval (RFC 7583 §3.2.1: propagation delay + DNSKEY TTL), so the successor is
// in every cache when it takes over. Zero when rotation is off or there is no current ZSK.
func (m *Manager) rotationDue(z *zone, now time.Time) time.Time {
	p := z.policy.Rollover
	if p.ZSKLifetime < 0 {
		return time.Time{}
	}
	cur := z.currentZSK(now)
	if cur == nil {
		return time.Time{}
	}
	return cur.Active.Add(p.ZSKLifetime - z.publishInterval())
}

func (z *zone) publishInterval() time.Duration {
	return z.policy.Rollover.PropagationDelay + z.policy.DNSKEYTTL
}

// rotate executes the ZSK pre-publish rollover (RFC 6781 §4.1.1.1) due at now: publish a
// successor, let it take over after the publish interval, and remove the old key once every
// signature it made has expired from caches (retire interval, RFC 7583 §3.3.1: propagation
// delay + the zone's largest TTL). Keys past their removal are deleted from the keystore.
// It only runs while every active KSK signs, since each step needs a new DNSKEY signature.
func (m *Manager) rotate(ctx context.Context, z *zone, now time.Time) error {
	p := z.policy.Rollover
	next := z.st.clone()
	var created, removed []*keyRec
	if cur := z.currentZSK(now); cur != nil && p.ZSKLifetime >= 0 && !now.Before(cur.Active.Add(p.ZSKLifetime-z.publishInterval())) {
		zsk, err := m.createKey(ctx, z, keystore.ZSK, now)
		if err != nil {
			return err
		}
		zsk.Publish = now
		zsk.Active = now.Add(z.publishInterval())
		next.ZSKs = append(next.ZSKs, zsk)
		created = append(created, zsk)
		for _, k := range next.ZSKs {
			if k.ID == cur.ID {
				k.Retire = zsk.Active
				k.Remove = zsk.Active.Add(p.PropagationDelay + z.maxZoneTTL())
				k.Modified = now
			}
		}
	}
	next.ZSKs = slices.DeleteFunc(next.ZSKs, func(k *keyRec) bool {
		gone := !k.Remove.IsZero() && !now.Before(k.Remove)
		if gone {
			removed = append(removed, k)
		}
		return gone
	})
	if len(created) == 0 && len(removed) == 0 {
		return nil
	}
	if err := m.commit(ctx, z, next, now); err != nil {
		m.dropKeys(created)
		return fmt.Errorf("commit rollover step: %w", err)
	}
	for _, k := range created {
		m.log.Info("ZSK successor published", "zone", z.name, "key", k.ID, "active_at", k.Active)
	}
	for _, k := range removed {
		delete(z.signers, k.ID)
		if store, err := m.storeOf(k); err == nil {
			if err := store.Delete(ctx, k.ID); err != nil && !errors.Is(err, keystore.ErrNotFound) {
				m.log.Error("delete removed ZSK", "zone", z.name, "key", k.ID, "err", err)
			}
		}
		m.log.Info("old ZSK removed", "zone", z.name, "key", k.ID)
	}
	return nil
}
