package keymgr

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

// Loop timing bounds. The loop sleeps until the earliest deadline of any zone, however close
// (rollover timings of a second or two work), but never less than minSleep, so a deadline
// that keeps falling in the past cannot spin, and never more than maxSleep, so that a clock
// that jumps is noticed.
const (
	minSleep = 20 * time.Millisecond
	maxSleep = time.Hour
)

// maxActionsPerStep bounds the actions one Step carries out for one zone; the planner needs
// a few at most (a delete, a DS check, a swap, a creation).
const maxActionsPerStep = 16

// Run is the background loop: it calls Step, then sleeps until the deadline Step returned, or
// until an operation wakes it, or ctx ends. A panic in a step is logged and the loop goes on.
// Beside it, it completes the pre-made signatures that zones' starts deferred
// (Config.DeferPremade).
func (m *Manager) Run(ctx context.Context) {
	filled := make(chan struct{})
	go func() {
		defer close(filled)
		m.fillPremade(ctx)
	}()
	defer func() { <-filled }()
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
		d := maxSleep
		if !next.IsZero() {
			d = min(max(time.Until(next), minSleep), maxSleep)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d)
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
// ACTIVE again by itself once its signer answers), carries out the rollover actions the
// planner (rollover.Plan) finds due, and rebuilds the ring at every instant of a key's
// timeline. It returns when it next needs to run.
func (m *Manager) Step(ctx context.Context, now time.Time) time.Time {
	var next time.Time
	zones := m.all()
	// One listing of each keystore serves every zone's orphans: the etcd keystore's List
	// reads every key of the cluster, which once per zone made a leader's step quadratic.
	var lists listings
	if orphansDue(zones) {
		lists = m.listAll(ctx)
	}
	for _, z := range zones {
		if ctx.Err() != nil {
			break // stopping: the rest waits for the next process
		}
		z.mu.Lock()
		was := z.signed.Load()
		t := m.stepZone(ctx, z, now, lists)
		flipped := was != z.signed.Load()
		note, noted := z.takeKeyNote()
		z.publish()
		z.mu.Unlock()
		if flipped {
			m.changed(z.name)
		}
		if noted {
			m.keysChanged(z.name, note)
		}
		next = earliest(next, t)
	}
	return next
}

// earliest returns the earlier of two deadlines, a zero one meaning "none".
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// stepZone does one zone's due work, its orphans from lists (nil: listed for it alone);
// call with z.mu held.
func (m *Manager) stepZone(ctx context.Context, z *zone, now time.Time, lists listings) time.Time {
	if z.st != nil && z.orphans.Swap(false) {
		m.dropOrphans(ctx, z, lists)
	}
	if z.st == nil || !z.st.Signing {
		return time.Time{}
	}
	// While the last ring change is not served by every instance of a cluster, no step
	// follows it: neither a planned instant of a key's timeline nor a planner action.
	m.openFailures(z, now)
	hold := m.awaitSync(ctx, z, now)
	switch {
	case hold.IsZero() && m.due(z, now):
		z.prove = false // the refresh signs with every KSK
		m.refresh(ctx, z, now)
	case z.prove:
		m.prove(ctx, z, now)
	case m.checkDue(z, now):
		m.check(ctx, z, now)
	}
	var next time.Time
	if hold.IsZero() && z.failure == "" && !z.failing() {
		// While a KSK cannot sign, no new DNSKEY signature can be made, so no key change
		// can be served; the timelines wait (the planner pauses new rollovers likewise).
		next = m.plan(ctx, z, now)
	}
	return earliest(earliest(m.deadline(z, now), next), hold)
}

// rolloverPolicy returns the zone's rollover policy as the planner takes it (policyFor its
// current state). Call with z.mu held.
func (z *zone) rolloverPolicy() rollover.Policy { return z.policyFor(z.st) }

// policyFor returns the zone's rollover policy for state st: the zone's DNSKEY TTL, its
// current largest TTL (it changes on reload), and the ZSK lifetime drawn for the zone.
func (z *zone) policyFor(st *zoneState) rollover.Policy {
	p := z.policy.Rollover
	p.DNSKEYTTL = z.policy.DNSKEYTTL
	p.MaxZoneTTL = z.maxZoneTTL()
	p.Algorithm = z.policy.Algorithm
	if st != nil && st.ZSKLifetime > 0 {
		p.ZSKLifetime = st.ZSKLifetime
	}
	return p.WithDefaults()
}

// plan runs the planner at now and carries out the actions it finds due, one at a time,
// re-planning after each (an action changes the keys the next one depends on). It returns
// the planner's next deadline. A failing action turns the zone INTERNAL_FAILURE and is
// retried with back-off; the served ring is left as it was.
func (m *Manager) plan(ctx context.Context, z *zone, now time.Time) time.Time {
	p := z.rolloverPolicy()
	for range maxActionsPerStep {
		if z.pending != nil {
			// An action changed the ring: the next waits until every instance serves it.
			return now.Add(syncPoll)
		}
		actions, next, _ := rollover.Plan(z.st.timelines(), p, now)
		if len(actions) == 0 {
			return next
		}
		a := actions[0]
		err := m.execute(ctx, z, a, p, now)
		if err == nil && int(a.Kind) < len(z.actions) {
			z.actions[a.Kind].Add(1)
		}
		if err != nil {
			var kf *kskFailure
			if errors.As(err, &kf) {
				m.log.Warn("rollover action waits for the KSK", "zone", z.name, "action", a.Kind, "err", err)
				m.kskFailed(ctx, z, kf, now)
				return z.retryAt
			}
			if kf := m.probe(ctx, z, now); kf != nil {
				// The action failed on the KSK's keystore (creating a KSK in a TPM that
				// does not answer): a KSK outage, not an internal failure.
				m.log.Warn("rollover action failed while a KSK cannot sign", "zone", z.name, "action", a.Kind, "err", err, "ksk", kf)
				m.kskFailed(ctx, z, kf, now)
				return z.retryAt
			}
			m.log.Error("rollover action failed", "zone", z.name, "action", a.Kind, "key", a.KeyID, "err", err)
			z.failure = fmt.Sprintf("rollover action %v: %v", a.Kind, err)
			m.scheduleRetry(z, now)
			return z.retryAt
		}
	}
	m.log.Error("rollover plan does not settle", "zone", z.name)
	return now.Add(m.cfg.KSKRetryMin)
}

// execute carries out one planner action and persists its effect (rollover.Apply). The
// order makes a crash at any point safe: a key is created in the keystore before the state
// names it (a crash in between leaves a key no state names, which AddZone deletes); a key
// is deleted from the keystore only after the state without it is on disk.
func (m *Manager) execute(ctx context.Context, z *zone, a rollover.Action, p rollover.Policy, now time.Time) error {
	keys := z.st.timelines()
	switch a.Kind {
	case rollover.CreateZSK, rollover.CreateKSK:
		return m.createPlanned(ctx, z, a, keys, p, now)
	case rollover.CheckParentDS:
		if checks, err := m.dsChecks(ctx, z); err != nil {
			// Neither confirms nor contradicts anything: the next check decides.
			m.log.Warn("parent DS check", "zone", z.name, "err", err)
		} else {
			keys = rollover.RecordDS(keys, checks, now)
		}
		_, err := m.apply(ctx, z, keys, a, rollover.Key{}, p, now, nil)
		return err
	case rollover.SwapKSK:
		next, err := m.apply(ctx, z, keys, a, rollover.Key{}, p, now, nil)
		if err != nil {
			return err
		}
		if k := next.kskByID(a.KeyID); k != nil {
			m.log.Info("KSK swap scheduled", "zone", z.name, "ksk", k.Name, "tag", k.Tag, "active_at", k.Active, "why", a.Why)
		}
		return nil
	case rollover.Delete:
		return m.deletePlanned(ctx, z, a, keys, p, now)
	}
	return fmt.Errorf("unknown action %v", a.Kind)
}

// apply records that action a was carried out at now: rollover.Apply on keys, then
// storeTimelines with add (which adds the record of a key just created, say). A DS check
// changes nothing that is served; every other action changes the ring. It returns the zone's
// new state.
func (m *Manager) apply(ctx context.Context, z *zone, keys []rollover.Key, a rollover.Action, created rollover.Key, p rollover.Policy, now time.Time, add func(*zoneState)) (*zoneState, error) {
	keys, err := rollover.Apply(keys, a, created, p, now)
	if err != nil {
		return nil, err
	}
	return m.storeTimelines(ctx, z, keys, now, add, a.Kind != rollover.CheckParentDS)
}

// storeTimelines makes keys (the planner's view) the zone's timelines: it writes them into a
// copy of the zone's state, after add's change (nil: none), and makes the copy the zone's
// state, through commit (which builds the new ring, saves, then swaps the ring in) when
// servesChange, or by saving it alone when nothing served changes. It returns the new state.
func (m *Manager) storeTimelines(ctx context.Context, z *zone, keys []rollover.Key, now time.Time, add func(*zoneState), servesChange bool) (*zoneState, error) {
	next := z.st.clone()
	if add != nil {
		add(next)
	}
	next.setTimelines(keys, now)
	if !servesChange {
		return next, m.persist(ctx, z, next, now)
	}
	return next, m.commit(ctx, z, next, now)
}

// createPlanned makes the key a CreateZSK or CreateKSK asks for and starts its rollover.
func (m *Manager) createPlanned(ctx context.Context, z *zone, a rollover.Action, keys []rollover.Key, p rollover.Policy, now time.Time) error {
	rec, err := m.createKey(ctx, z, a.Role, a.Algorithm, now)
	if err != nil {
		return err
	}
	if err := m.fillPublic(ctx, z, rec); err != nil {
		m.dropKeys([]*keyRec{rec})
		return err
	}
	add := func(next *zoneState) {
		if a.Role == keystore.KSK {
			name := fmt.Sprintf("auto_%d_%s", rec.Tag, now.UTC().Format("20060102T150405"))
			next.KSKs = append(next.KSKs, &kskRec{keyRec: *rec, Name: name})
		} else {
			next.ZSKs = append(next.ZSKs, rec)
		}
	}
	if _, err := m.apply(ctx, z, keys, a, rec.Key, p, now, add); err != nil {
		m.dropKeys([]*keyRec{rec})
		return err
	}
	m.log.Info("rollover started: new key published", "zone", z.name, "role", a.Role, "tag", rec.Tag, "key", rec.ID,
		"emergency", a.Emergency, "why", a.Why)
	return nil
}

// deletePlanned drops a removed key from the state, then from the keystore.
func (m *Manager) deletePlanned(ctx context.Context, z *zone, a rollover.Action, keys []rollover.Key, p rollover.Policy, now time.Time) error {
	var rec *keyRec
	if k := z.st.kskByID(a.KeyID); k != nil {
		rec = &k.keyRec
	} else if i := slices.IndexFunc(z.st.ZSKs, func(k *keyRec) bool { return k.ID == a.KeyID }); i >= 0 {
		rec = z.st.ZSKs[i]
	}
	if _, err := m.apply(ctx, z, keys, a, rollover.Key{}, p, now, nil); err != nil {
		return err
	}
	delete(z.signers, a.KeyID)
	if rec != nil {
		m.deleteFromStore(ctx, z, rec)
	}
	m.log.Info("old key deleted", "zone", z.name, "role", a.Role, "key", a.KeyID)
	return nil
}

// deleteFromStore deletes a key the state no longer names. A failure leaves an unused key
// in the store (AddZone retries), which is logged, not an error of the operation.
func (m *Manager) deleteFromStore(ctx context.Context, z *zone, rec *keyRec) {
	store, err := m.storeOf(rec)
	if err == nil {
		err = store.Delete(ctx, rec.ID)
	}
	if err != nil && !errors.Is(err, keystore.ErrNotFound) {
		m.log.Error("delete key from the keystore", "zone", z.name, "key", rec.ID, "err", err)
	}
}

// persist writes next and makes it the zone's state, for changes that do not alter the
// served ring (a DS check's result).
func (m *Manager) persist(ctx context.Context, z *zone, next *zoneState, now time.Time) error {
	next.Modified = now
	if err := m.saveState(ctx, z, next); err != nil {
		return err
	}
	z.st = next
	return nil
}

// failing reports whether a published KSK is ACTION_NEEDED because it cannot sign.
func (z *zone) failing() bool {
	return slices.ContainsFunc(z.st.KSKs, func(k *kskRec) bool { return k.Failure != "" })
}

// due reports whether the ring must be rebuilt at now: pre-made signatures a step old, a
// retry after a failure, or a key timeline instant passed since the ring was made.
func (m *Manager) due(z *zone, now time.Time) bool {
	if z.cur.Load() == nil || !now.Before(z.premadeAt.Add(PremadeStep)) {
		return true
	}
	if !z.retryAt.IsZero() && !now.Before(z.retryAt) {
		return true
	}
	for _, t := range z.st.boundaries() {
		if t.After(z.premadeAt) && !t.After(now) {
			return true
		}
	}
	return false
}

// deadline is the zone's next work after now: the pre-made signatures' refresh, a retry, a
// health check of the KSKs, or the next instant of a key's timeline.
func (m *Manager) deadline(z *zone, now time.Time) time.Time {
	// While a refresh is failing its retry replaces the (past) refresh time.
	next := z.premadeAt.Add(PremadeStep)
	if !z.retryAt.IsZero() {
		next = z.retryAt
	}
	if m.checking(z) && z.checkAt.Before(next) {
		next = z.checkAt
	}
	for _, t := range z.st.boundaries() {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}
	if z.prove || z.orphans.Load() || z.openErr.Load() != nil {
		next = now
	}
	return next
}

// refresh rebuilds the zone's ring at now. When a KSK cannot sign, the served ring stays (its
// pre-made signatures keep the zone valid for days), the KSK turns ACTION_NEEDED and a retry
// is scheduled with back-off; when no ring is served yet (a start while the KSK's TPM is
// unreachable) one is built from the pre-made signatures the state directory keeps. When
// the KSK signs again its ACTION_NEEDED clears, and the fresh pre-made signatures are saved.
func (m *Manager) refresh(ctx context.Context, z *zone, now time.Time) {
	next := z.st.clone()
	n := m.windows(z)
	ring, err := m.build(ctx, z, next, now, n)
	changed := markFailures(next, err, now)
	var kf *kskFailure
	switch {
	case err == nil && n < PremadeCount:
		// A start's first window: served at once, the whole set made and saved by Run.
		z.install(ring, next.Signing, now)
		z.keysOpened()
		m.fillLater(z)
		m.serving(z, z.st, now, now)
		z.failure = ""
		z.retryAt, z.backoff = time.Time{}, 0
		z.checkAt = now.Add(m.cfg.KSKCheckInterval)
	case err == nil:
		set := premadeOf(ring, now)
		if perr := m.storePremade(ctx, z, set); perr != nil && z.cur.Load() != nil {
			// Another instance could not serve this ring: the current one stays (its pre-made
			// signatures last days), as it does at every instance, until the save works.
			m.log.Warn("pre-made KSK signatures not saved: the served ring stays until they are", "zone", z.name, "err", perr)
			m.scheduleRetry(z, now)
			break
		}
		z.install(ring, next.Signing, now)
		z.keysOpened()
		m.keepLocal(ctx, z, z.st, set)
		m.serving(z, z.st, now, now)
		z.failure = ""
		z.retryAt, z.backoff = time.Time{}, 0
		z.checkAt = now.Add(m.cfg.KSKCheckInterval)
	case errors.As(err, &kf):
		if z.cur.Load() == nil {
			m.fromDisk(ctx, z, next, now)
		}
		m.log.Warn("KSK cannot sign", "zone", z.name, "ksk", strings.Join(kf.names, ","), "err", kf.err,
			"serving", outageNote(z.premadeUntil(), now))
		m.scheduleRetry(z, now)
	default:
		m.log.Error("build key ring", "zone", z.name, "err", err)
		z.failure = err.Error()
		m.scheduleRetry(z, now)
	}
	if changed {
		next.Modified = now
		if err := m.saveState(ctx, z, next); err != nil {
			m.log.Error("save state", "zone", z.name, "err", err)
			z.failure = err.Error()
			return
		}
		z.st = next
	}
}

// kskFailed turns the KSKs kf names ACTION_NEEDED (persisted, so the age of the problem
// survives a restart) and schedules a retry; the served ring is left as it is.
func (m *Manager) kskFailed(ctx context.Context, z *zone, kf *kskFailure, now time.Time) {
	m.scheduleRetry(z, now)
	next := z.st.clone()
	if !markFailures(next, kf, now) {
		return
	}
	if err := m.persist(ctx, z, next, now); err != nil {
		m.log.Error("save state", "zone", z.name, "err", err)
		z.failure = err.Error()
	}
}

// scheduleRetry sets the next attempt to reach a failing KSK: KSKRetryMin after the first
// failure, doubling after each until RetryMax.
func (m *Manager) scheduleRetry(z *zone, now time.Time) {
	lo := m.cfg.KSKRetryMin
	z.backoff = min(max(2*z.backoff, lo), max(RetryMax, lo))
	z.retryAt = now.Add(z.backoff)
}

// premadeUntil is when the served ring's pre-made KSK signatures run out (zero: no ring).
func (z *zone) premadeUntil() time.Time {
	if r := z.ring(); r != nil {
		return r.PremadeValidUntil()
	}
	return time.Time{}
}
