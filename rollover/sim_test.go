package rollover_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/rollover/rollovertest"
)

const day = 24 * time.Hour

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// window is a span [from, to) during which the zone's servers are down.
type window struct{ from, to time.Time }

// sim runs a zone's key life against an injected clock: an executor doing what keymgr does
// (Plan, carry out the actions, Apply, swap the ring at the next time), a parent that follows
// CDS literally after a delay, outages, and the cache checker watching what was served.
type sim struct {
	t       *testing.T
	policy  rollover.Policy // what the planner is given
	keys    []rollover.Key
	now     time.Time
	serial  int
	outages []window
	checker *rollovertest.Checker

	parentDelay  time.Duration // from the parent seeing a CDS change to it publishing the new DS RRset
	parentDS     []string
	parentNext   []string
	parentNextAt time.Time
	parentCDS    []string // the last non-empty CDS RRset the parent saw

	// tamper, if set, edits the keys after every Apply, to model a planner that shortens
	// the RFC 7583 intervals.
	tamper func(keys []rollover.Key, a rollover.Action)
	// onAction, if set, sees every action carried out (to schedule an outage around one).
	onAction func(s *sim, a rollover.Action)
	// crash, if set, sees every action once its side effect is done and before its effect is
	// persisted; returning true models kill -9 at that point: the effect is lost (a created
	// key is left in the keystore, which keymgr deletes as an orphan) and the action is due
	// again at the restart.
	crash func(s *sim, a rollover.Action) bool
	// observe, if set, sees every snapshot served and the status planned with it.
	observe func(s *sim, snap rollovertest.Snapshot)
	status  rollover.Status

	created, deleted map[keystore.Role]int
	concurrent       int // instants at which both roles had two keys published
	needsAction      int // plans that reported ACTION_NEEDED
	paused           int // plans that reported new rollovers paused
	maxKeys          int

	// Liveness: when the KSK rollover in progress started (zero: none), how long each
	// completed one took (CreateKSK to the old KSK's deletion), and the longest time a due
	// ZSK rollover waited to start.
	kskSince    time.Time
	kskRolls    []time.Duration
	zskMaxWait  time.Duration
	zskWaitedAt time.Time
}

func newSim(t *testing.T, p rollover.Policy, real rollover.Policy) *sim {
	real = real.WithDefaults()
	return &sim{
		t: t, policy: p, now: start,
		checker:     rollovertest.New(real.DNSKEYTTL, real.MaxZoneTTL, real.ParentDSTTL),
		parentDelay: 2 * day,
		created:     map[keystore.Role]int{}, deleted: map[keystore.Role]int{},
	}
}

func (s *sim) up() bool {
	for _, w := range s.outages {
		if !s.now.Before(w.from) && s.now.Before(w.to) {
			return false
		}
	}
	return true
}

// run advances the clock to end, stepping to every planned event, every outage edge, every
// parent change, and at least every step in between.
func (s *sim) run(end time.Time, step time.Duration) {
	for !s.now.After(end) {
		next := s.now.Add(step)
		if s.up() {
			if n := s.execute(); !n.IsZero() && n.Before(next) {
				next = n
			}
			s.parentScan()
		} else if _, n, _ := rollover.Plan(s.keys, s.policy, s.now); !n.IsZero() && n.Before(next) {
			next = n // nothing is done while down, but the snapshots follow the timeline
		}
		s.parentApply()
		snap := rollovertest.FromKeys(s.keys, s.parentDS, s.up(), s.now)
		s.checker.Observe(snap)
		s.account(snap)
		if s.observe != nil {
			s.observe(s, snap)
		}
		for _, w := range s.outages {
			for _, e := range []time.Time{w.from, w.to} {
				if e.After(s.now) && e.Before(next) {
					next = e
				}
			}
		}
		if !s.parentNextAt.IsZero() && s.parentNextAt.After(s.now) && s.parentNextAt.Before(next) {
			next = s.parentNextAt
		}
		s.now = next
	}
}

// execute is keymgr's step: plan, carry out every due action, repeat until nothing is due.
func (s *sim) execute() time.Time {
	for range 10 {
		actions, next, st := rollover.Plan(s.keys, s.policy, s.now)
		s.status = st
		if st.NeedsAction() {
			s.needsAction++
		}
		if st.Paused {
			s.paused++
		}
		if due := st.NextZSKRollover; !due.IsZero() && s.now.Sub(due) > s.zskMaxWait {
			s.zskMaxWait, s.zskWaitedAt = s.now.Sub(due), s.now
		}
		if len(actions) == 0 {
			return next
		}
		for _, a := range actions {
			s.do(a)
			if !s.up() {
				return time.Time{} // killed: the restart plans afresh
			}
		}
	}
	s.t.Fatalf("%v: plan does not settle: %d keys", s.now, len(s.keys))
	return time.Time{}
}

func (s *sim) do(a rollover.Action) {
	var created rollover.Key
	switch a.Kind {
	case rollover.CreateZSK, rollover.CreateKSK:
		s.serial++
		alg := a.Algorithm
		if alg == 0 {
			alg = 13
		}
		created = rollover.Key{ID: fmt.Sprintf("%s%d", a.Role, s.serial), Role: a.Role, Tag: uint16(s.serial), Algorithm: alg}
		s.created[a.Role]++
		if a.Role == keystore.KSK && s.created[keystore.KSK] > 1 {
			s.kskSince = s.now
		}
	case rollover.CheckParentDS:
		var checks []rollover.DSCheck
		for _, k := range s.keys {
			if k.Role == keystore.KSK {
				p := rollover.DSAtNone
				if slices.Contains(s.parentDS, k.ID) {
					p = rollover.DSAtAll
				}
				checks = append(checks, rollover.DSCheck{KeyID: k.ID, Presence: p})
			}
		}
		s.keys = rollover.RecordDS(s.keys, checks, s.now)
	case rollover.Delete:
		s.deleted[a.Role]++
		if a.Role == keystore.KSK && !s.kskSince.IsZero() {
			s.kskRolls = append(s.kskRolls, s.now.Sub(s.kskSince))
			s.kskSince = time.Time{}
		}
	}
	if s.crash != nil && s.crash(s, a) {
		return
	}
	keys, err := rollover.Apply(s.keys, a, created, s.policy, s.now)
	if err != nil {
		s.t.Fatalf("%v: apply %v: %v", s.now, a.Kind, err)
	}
	s.keys = persist(s.t, keys)
	if s.tamper != nil {
		s.tamper(s.keys, a)
	}
	if s.onAction != nil {
		s.onAction(s, a)
	}
}

// parentScan models a registry that reads the zone's CDS RRset while the zone answers (RFC 7344
// §4.1, RFC 8078) and follows it literally: whenever the CDS RRset differs from the last one it
// saw, it replaces its DS RRset with exactly the CDS RRset parentDelay later (a change seen in
// the meantime replaces the pending one). An absent CDS RRset means "no change". The first DS is
// added by the operator a day after signing starts, as in Route 53's procedure.
func (s *sim) parentScan() {
	cds := s.cds()
	if len(s.parentDS) == 0 && s.parentNextAt.IsZero() {
		var first []string
		for _, k := range s.keys {
			if k.Role == keystore.KSK && k.Signs(s.now) {
				first = []string{k.ID}
			}
		}
		if len(first) > 0 {
			s.parentNext, s.parentNextAt = first, s.now.Add(day)
		}
		return
	}
	if len(cds) == 0 || slices.Equal(cds, s.parentCDS) {
		return
	}
	s.parentCDS, s.parentNext, s.parentNextAt = cds, cds, s.now.Add(s.parentDelay)
}

// cds returns the KSKs the zone's CDS RRset names at now.
func (s *sim) cds() []string { return rollover.CDSKeys(s.keys, s.now) }

func (s *sim) parentApply() {
	if !s.parentNextAt.IsZero() && !s.now.Before(s.parentNextAt) {
		s.parentDS, s.parentNextAt = s.parentNext, time.Time{}
	}
}

func (s *sim) account(snap rollovertest.Snapshot) {
	var z, k int
	for _, key := range s.keys {
		if key.InDNSKEY(s.now) {
			if key.Role == keystore.ZSK {
				z++
			} else {
				k++
			}
		}
	}
	if z > 1 && k > 1 {
		s.concurrent++
	}
	s.maxKeys = max(s.maxKeys, len(s.keys))
}

func (s *sim) report() {
	s.t.Helper()
	for _, v := range s.checker.Violations() {
		s.t.Log(v)
	}
}

// TestTwoYears is the proof: two years and a bit of one zone's life with the default timings
// (ZSK every 30 days, automatic KSK rollover every year, the parent acting on CDS two days
// later) and two ten-day outages, one in the middle of a ZSK rollover and one while the new
// KSK waits for its DS. A resolver cache model checks RFC 7583's conditions at every event and
// every 30 minutes in between.
func TestTwoYears(t *testing.T) {
	p := rollover.Policy{KSKAutomatic: true}
	s := newSim(t, p, p)
	s.outages = []window{{start.Add(200 * day), start.Add(210 * day)}}
	kskOutage := false
	s.onAction = func(s *sim, a rollover.Action) {
		// Go down an hour after the first KSK rollover's CDS appears, for ten days.
		if a.Kind == rollover.CheckParentDS && !kskOutage {
			kskOutage = true
			s.outages = append(s.outages, window{s.now.Add(time.Hour), s.now.Add(time.Hour + 10*day)})
		}
		// Go down ten minutes into the first ZSK rollover after day 400, for ten days: the
		// new key's activation and the old key's removal both fall in the outage.
		if a.Kind == rollover.CreateZSK && s.now.After(start.Add(400*day)) && len(s.outages) < 3 {
			s.outages = append(s.outages, window{s.now.Add(10 * time.Minute), s.now.Add(10*time.Minute + 10*day)})
		}
	}
	s.run(start.Add(2*365*day+30*day), 30*time.Minute)
	s.report()
	if n := s.checker.Count(); n != 0 {
		t.Fatalf("%d RFC 7583 violations", n)
	}
	// 760 days at 30 days each, less the time lost to outages and KSK rollovers: at least 22.
	if got := s.created[keystore.ZSK]; got < 22 || got > 27 {
		t.Errorf("ZSKs created = %d, want 22..27", got)
	}
	if got := s.created[keystore.KSK]; got != 3 { // the first and two yearly rollovers
		t.Errorf("KSKs created = %d, want 3", got)
	}
	if s.deleted[keystore.ZSK] != s.created[keystore.ZSK]-1 || s.deleted[keystore.KSK] != 2 {
		t.Errorf("deleted %v of created %v: old keys must be deleted once removed", s.deleted, s.created)
	}
	if s.concurrent != 0 {
		t.Errorf("ZSK and KSK rollovers overlapped at %d instants", s.concurrent)
	}
	if s.maxKeys > 4 {
		t.Errorf("up to %d keys in the state, want at most 4", s.maxKeys)
	}
	if len(s.outages) != 3 {
		t.Errorf("%d outages happened, want 3", len(s.outages))
	}
	if s.needsAction == 0 {
		t.Error("the ten-day outage during the DS wait never turned the KSK ACTION_NEEDED")
	}
	if s.checker.Observed() < 2*365*48 {
		t.Errorf("only %d checks", s.checker.Observed())
	}
}

// TestConsecutiveKSKRollovers runs a zone for two years with a KSK lifetime of 60 days, so
// that at least ten automatic KSK rollovers follow one another (and the monthly ZSK rollovers
// between them), against a parent that follows the CDS RRset literally after its delay: faster
// than the DS swap interval (a registrar polling every few minutes), just below it, and slower
// (a registry scanning every other day). Besides the cache model it checks liveness: every KSK
// rollover ends (the old KSK deleted) within a bound, a due ZSK rollover never waits longer
// than a KSK rollover takes, and the zone never pauses or needs an operator.
func TestConsecutiveKSKRollovers(t *testing.T) {
	for _, delay := range []time.Duration{10 * time.Minute, 6 * time.Hour, 2 * day} {
		t.Run(fmt.Sprintf("parent delay %v", delay), func(t *testing.T) {
			p := rollover.Policy{KSKAutomatic: true, KSKLifetime: 60 * day}
			s := newSim(t, p, p)
			s.parentDelay = delay
			end := start.Add(2*365*day + 30*day)
			s.run(end, 30*time.Minute)
			s.report()
			if n := s.checker.Count(); n != 0 {
				t.Fatalf("%d RFC 7583 violations", n)
			}
			// A KSK rollover takes Ipub, the parent's delay, at most a DS check interval
			// and the swap interval; the half-hour steps of the simulation add one step.
			pw := p.WithDefaults()
			bound := pw.PublishInterval() + delay + pw.DSCheckInterval + pw.DSSwapInterval() + time.Hour
			for i, d := range s.kskRolls {
				if d > bound {
					t.Errorf("KSK rollover %d took %v, want at most %v", i+1, d, bound)
				}
			}
			if !s.kskSince.IsZero() && end.Sub(s.kskSince) > bound {
				t.Errorf("the KSK rollover started at %v has not ended %v later; CDS names %v, the parent's DS %v",
					s.kskSince, end.Sub(s.kskSince), s.cds(), s.parentDS)
			}
			if got := len(s.kskRolls); got < 10 {
				t.Errorf("%d KSK rollovers completed, want at least 10 (KSKs created %d)", got, s.created[keystore.KSK])
			}
			if s.zskMaxWait > bound {
				t.Errorf("a due ZSK rollover waited %v (at %v), want at most %v", s.zskMaxWait, s.zskWaitedAt, bound)
			}
			if got := s.created[keystore.ZSK]; got < 20 {
				t.Errorf("ZSKs created = %d, want at least 20", got)
			}
			if s.needsAction != 0 || s.paused != 0 {
				t.Errorf("ACTION_NEEDED in %d plans, paused in %d, want none", s.needsAction, s.paused)
			}
			if s.concurrent != 0 {
				t.Errorf("ZSK and KSK rollovers overlapped at %d instants", s.concurrent)
			}
			if s.maxKeys > 4 {
				t.Errorf("up to %d keys in the state, want at most 4", s.maxKeys)
			}
			t.Logf("%d KSK rollovers (longest %v), %d ZSKs, longest wait of a due ZSK rollover %v, %d checks",
				len(s.kskRolls), slices.Max(append([]time.Duration{0}, s.kskRolls...)), s.created[keystore.ZSK], s.zskMaxWait, s.checker.Observed())
		})
	}
}

// algSteps is when an algorithm rollover's steps were first served, from the snapshots.
type algSteps struct {
	from, to                      uint8
	changed                       time.Time // the policy's algorithm changed
	signNew, pubNew, cdsNew       time.Time // new signatures; new keys in DNSKEY; CDS names the new KSK
	dsNew, pubOldGone, sigOldGone time.Time // the parent's DS names it; old keys out; old signatures gone
	statusSeen                    bool      // Plan's status reported the rollover
}

// observe records the steps from what the zone serves, or would serve while it is down (an
// outage delays nothing that the timeline says, and caches only empty meanwhile).
func (st *algSteps) observe(s *sim, snap rollovertest.Snapshot) {
	if st.changed.IsZero() {
		return
	}
	has := func(ids []string, alg uint8) bool {
		return slices.ContainsFunc(ids, func(id string) bool { return snap.Algorithms[id] == alg })
	}
	first := func(t *time.Time, cond bool) {
		if t.IsZero() && cond {
			*t = snap.At
		}
	}
	first(&st.signNew, has(snap.DataSigners, st.to))
	first(&st.pubNew, has(snap.DNSKEY, st.to))
	first(&st.cdsNew, slices.ContainsFunc(s.cds(), func(id string) bool { return snap.Algorithms[id] == st.to }))
	first(&st.dsNew, has(snap.DS, st.to))
	first(&st.pubOldGone, !st.pubNew.IsZero() && !has(snap.DNSKEY, st.from))
	first(&st.sigOldGone, !st.pubNew.IsZero() && !has(snap.DataSigners, st.from) && !has(snap.DNSKEYSigners, st.from))
	if s.status.AlgorithmFrom == st.from && s.status.AlgorithmTo == st.to {
		st.statusSeen = true
	}
}

// algorithmRun runs a zone on algorithm 13 with a parent that follows CDS after delay, changes
// the policy to algorithm 15 at day 29 + 23 h (in the middle of the first ZSK rollover, so the
// algorithm rollover waits for it), and runs on to day 120. setup may add crashes or outages.
func algorithmRun(t *testing.T, delay time.Duration, setup func(s *sim, st *algSteps)) (*sim, *algSteps) {
	return algorithmRunPolicy(t, rollover.Policy{KSKAutomatic: true, Algorithm: 13}, delay, setup)
}

// algorithmRunPolicy is algorithmRun with the policy p (on algorithm 13).
func algorithmRunPolicy(t *testing.T, p rollover.Policy, delay time.Duration, setup func(s *sim, st *algSteps)) (*sim, *algSteps) {
	s := newSim(t, p, p)
	s.parentDelay = delay
	if !p.KSKAutomatic {
		// The operator's KSK (Route 53's procedure: published and signing at once).
		s.keys = []rollover.Key{{ID: "KSK0", Role: keystore.KSK, Tag: 60000, Algorithm: 13, Created: start, Publish: start, Ready: start, Active: start}}
	}
	st := &algSteps{from: 13, to: 15}
	s.observe = st.observe
	if setup != nil {
		setup(s, st)
	}
	s.run(start.Add(29*day+23*time.Hour), 30*time.Minute)
	s.policy.Algorithm = 15
	st.changed = s.now
	s.run(start.Add(120*day), 30*time.Minute)
	s.report()
	return s, st
}

// checkAlgorithmRun checks that the algorithm rollover ran to its end in RFC 6781 §4.1.4's order
// with RFC 7583's intervals between the steps, and that the zone rolled on in the new algorithm.
func checkAlgorithmRun(t *testing.T, s *sim, st *algSteps) {
	t.Helper()
	if n := s.checker.Count(); n != 0 {
		t.Fatalf("%d violations of the cache model (RFC 7583, RFC 4035 §2.2)", n)
	}
	p := s.policy.WithDefaults()
	steps := []struct {
		name     string
		from, to time.Time
		least    time.Duration
	}{
		{"the policy change to the new signatures", st.changed, st.signNew, 0},
		{"new signatures to new keys published (Dprp + TTLsig)", st.signNew, st.pubNew, p.RetireInterval()},
		{"new keys published to CDS naming the new KSK (Ipub)", st.pubNew, st.cdsNew, p.PublishInterval()},
		{"CDS to the parent's new DS", st.cdsNew, st.dsNew, 0},
		{"the new DS to the old keys' removal (parent propagation + DS TTL)", st.dsNew, st.pubOldGone, p.DSSwapInterval()},
		{"the old keys' removal to their signatures' (Ipub)", st.pubOldGone, st.sigOldGone, p.PublishInterval()},
	}
	for _, c := range steps {
		switch {
		case c.from.IsZero() || c.to.IsZero():
			t.Errorf("%s: never happened (from %v to %v)", c.name, c.from, c.to)
		case c.to.Sub(c.from) < c.least:
			t.Errorf("%s: %v, want at least %v", c.name, c.to.Sub(c.from), c.least)
		}
	}
	if total := st.sigOldGone.Sub(st.changed); total > 10*day {
		t.Errorf("the algorithm rollover took %v", total)
	}
	if !st.statusSeen {
		t.Error("Plan's status never reported the algorithm rollover 13 to 15")
	}
	left := 0
	for _, k := range s.keys {
		if !k.Remove.IsZero() && !k.Remove.After(s.now) {
			// With manual KSK rollover a removed KSK stays INACTIVE until the operator deletes
			// it (Route 53's procedure); it is in no RRset.
			if p.KSKAutomatic || k.Role != keystore.KSK {
				t.Errorf("removed key %s (%v) not deleted", k.ID, k.Role)
			}
			continue
		}
		left++
		if k.Algorithm != 15 {
			t.Errorf("key %s still has algorithm %d at the end", k.ID, k.Algorithm)
		}
	}
	if left > 3 {
		t.Errorf("%d keys left at the end, want 2 or 3", left)
	}
	if s.needsAction != 0 {
		t.Errorf("ACTION_NEEDED in %d plans", s.needsAction)
	}
}

// TestAlgorithmRollover changes a zone's algorithm from 13 to 15 while a ZSK rollover runs,
// against a parent that follows CDS after 10 minutes or two days, and checks the rollover
// against the cache model (including that every algorithm in a DNSKEY RRset a resolver may
// hold signs the data it may hold with it) and RFC 6781 §4.1.4's order.
func TestAlgorithmRollover(t *testing.T) {
	for _, delay := range []time.Duration{10 * time.Minute, 2 * day} {
		t.Run(fmt.Sprintf("parent delay %v", delay), func(t *testing.T) {
			s, st := algorithmRun(t, delay, nil)
			checkAlgorithmRun(t, s, st)
			t.Logf("changed %v; new signatures +%v, new keys +%v, CDS +%v, new DS +%v, old keys out +%v, old signatures out +%v",
				st.changed.Format(time.DateTime), st.signNew.Sub(st.changed), st.pubNew.Sub(st.changed), st.cdsNew.Sub(st.changed),
				st.dsNew.Sub(st.changed), st.pubOldGone.Sub(st.changed), st.sigOldGone.Sub(st.changed))
		})
	}
}

// TestAlgorithmRolloverManualKSK: with manual KSK rollover the algorithm rollover runs as with
// automatic (its new KSK waits for the parent's DS like any), and ends with the old KSK
// INACTIVE, left for the operator to delete.
func TestAlgorithmRolloverManualKSK(t *testing.T) {
	s, st := algorithmRunPolicy(t, rollover.Policy{Algorithm: 13}, 6*time.Hour, nil)
	checkAlgorithmRun(t, s, st)
}

// TestAlgorithmRolloverKill kills the executor (kill -9) at every action of an algorithm
// rollover, once with the action's effect lost and once just after it was persisted, and takes
// the zone down across every instant of its timeline; each time the rollover resumes and ends
// as in the run without a crash.
func TestAlgorithmRolloverKill(t *testing.T) {
	const delay = 6 * time.Hour
	// during reports whether a is one of the algorithm rollover's actions: from the policy
	// change until no key of the old algorithm is left.
	during := func(s *sim, st *algSteps) bool {
		return !st.changed.IsZero() && slices.ContainsFunc(s.keys, func(k rollover.Key) bool { return k.Algorithm == st.from })
	}
	var kinds []rollover.ActionKind
	clean, cst := algorithmRun(t, delay, func(s *sim, st *algSteps) {
		s.crash = func(s *sim, a rollover.Action) bool {
			if during(s, st) {
				kinds = append(kinds, a.Kind)
			}
			return false
		}
	})
	checkAlgorithmRun(t, clean, cst)
	if len(kinds) < 6 {
		t.Fatalf("the algorithm rollover took %d actions (%v), want at least 6", len(kinds), kinds)
	}
	for i, kind := range kinds {
		for _, lost := range []bool{true, false} {
			t.Run(fmt.Sprintf("kill at action %d (%v), effect lost %v", i+1, kind, lost), func(t *testing.T) {
				s, st := algorithmRun(t, delay, func(s *sim, st *algSteps) {
					n := 0
					s.crash = func(s *sim, a rollover.Action) bool {
						if !during(s, st) {
							return false
						}
						if n++; n != i+1 {
							return false
						}
						s.outages = append(s.outages, window{s.now, s.now.Add(10 * time.Minute)})
						return lost // not lost: the effect is persisted, then the process dies
					}
				})
				checkAlgorithmRun(t, s, st)
			})
		}
	}
	for _, step := range []struct {
		name string
		at   time.Time
	}{{"new keys published", cst.pubNew}, {"CDS appears", cst.cdsNew}, {"old keys removed", cst.pubOldGone}, {"old signatures withdrawn", cst.sigOldGone}} {
		t.Run("down across: "+step.name, func(t *testing.T) {
			s, st := algorithmRun(t, delay, func(s *sim, st *algSteps) {
				s.outages = []window{{step.at.Add(-10 * time.Minute), step.at.Add(time.Hour)}}
			})
			checkAlgorithmRun(t, s, st)
		})
	}
}

// TestAlgorithmShortcutsAreCaught shows that the cache model catches an algorithm rollover
// that skips one of RFC 6781 §4.1.4's waits.
func TestAlgorithmShortcutsAreCaught(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(keys []rollover.Key, a rollover.Action)
	}{
		{"new keys published when they start signing", func(keys []rollover.Key, a rollover.Action) {
			for i := range keys {
				if k := &keys[i]; k.Algorithm == 15 && k.Publish.After(a.At) && a.Kind != rollover.SwapKSK {
					d := k.Publish.Sub(a.At)
					k.Publish, k.Ready = k.Publish.Add(-d), k.Ready.Add(-d)
					if !k.CDSPublish.IsZero() {
						k.CDSPublish = k.Ready
					}
				}
			}
		}},
		{"old signatures withdrawn with the old keys", func(keys []rollover.Key, a rollover.Action) {
			for i := range keys {
				if k := &keys[i]; k.Algorithm == 13 && k.Retire.After(k.Remove) && !k.Remove.IsZero() {
					k.Retire = k.Remove
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := algorithmRun(t, 6*time.Hour, func(s *sim, st *algSteps) { s.tamper = tc.tamper })
			if s.checker.Count() == 0 {
				t.Fatal("no violation found")
			}
			t.Logf("%d violations, first: %v", s.checker.Count(), s.checker.Violations()[0])
		})
	}
}

// TestShortenedTimingsAreCaught shows the checker can fail: every way of waiting less than RFC
// 7583 asks for is caught in a 100-day run.
func TestShortenedTimingsAreCaught(t *testing.T) {
	real := rollover.Policy{KSKAutomatic: true, KSKLifetime: 40 * day}.WithDefaults()
	tests := []struct {
		name   string
		policy func(p *rollover.Policy)
		tamper func(keys []rollover.Key, a rollover.Action)
	}{
		{name: "new ZSK signs at publish", tamper: func(keys []rollover.Key, a rollover.Action) {
			if a.Kind != rollover.CreateZSK {
				return
			}
			n := &keys[len(keys)-1]
			for i := range keys {
				if keys[i].Retire.Equal(n.Active) {
					keys[i].Retire = n.Publish
				}
			}
			n.Ready, n.Active = n.Publish, n.Publish
		}},
		{name: "old ZSK removed when retired", tamper: func(keys []rollover.Key, a rollover.Action) {
			for i := range keys {
				if keys[i].Role == keystore.ZSK && !keys[i].Retire.IsZero() {
					keys[i].Remove = keys[i].Retire
				}
			}
		}},
		{name: "publish interval a minute short", policy: func(p *rollover.Policy) {
			p.DNSKEYTTL = real.DNSKEYTTL - real.PropagationDelay - time.Minute
		}},
		{name: "retire interval a minute short", policy: func(p *rollover.Policy) {
			p.MaxZoneTTL = real.MaxZoneTTL - real.PropagationDelay - time.Minute
		}},
		{name: "parent DS TTL not waited", policy: func(p *rollover.Policy) {
			p.ParentDSTTL, p.ParentPropagation = time.Nanosecond, time.Nanosecond
		}},
		{name: "old KSK removed as soon as the new DS shows", tamper: func(keys []rollover.Key, a rollover.Action) {
			if a.Kind != rollover.SwapKSK {
				return
			}
			for i := range keys {
				if keys[i].Role == keystore.KSK && !keys[i].Remove.IsZero() {
					keys[i].Retire, keys[i].Remove = a.At, a.At
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := real
			if tc.policy != nil {
				tc.policy(&p)
			}
			s := newSim(t, p, real)
			s.tamper = tc.tamper
			s.run(start.Add(100*day), 30*time.Minute)
			if s.checker.Count() == 0 {
				t.Fatal("no violation found")
			}
			t.Logf("%d violations, first: %v", s.checker.Count(), s.checker.Violations()[0])
		})
	}
}

// persist round-trips keys through JSON, as keymgr's state file does after every Apply, so the
// simulation runs on what a restart would read back.
func persist(t *testing.T, keys []rollover.Key) []rollover.Key {
	b, err := json.Marshal(keys)
	if err != nil {
		t.Fatal(err)
	}
	var out []rollover.Key
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
