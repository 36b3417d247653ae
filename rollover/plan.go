package rollover

import (
	"fmt"
	"slices"
	"time"

	"github.com/signetdns/signet/keystore"
)

// Plan returns the actions due at now for a zone with the given keys and policy, the next time
// Plan needs to run (the earliest planned timestamp or due time after now; zero if nothing is
// planned), and the zone's derived status. It is a pure function: the same arguments always
// give the same result, so a restart after a crash resumes exactly where the timestamps say.
//
// keymgr must also re-plan after any change it makes to the keys outside Plan's actions (an
// operator's ConfirmDS, a KSK turning ACTION_NEEDED or recovering).
//
// Rules, in the order they are applied:
//   - A key whose Remove has passed is deleted (Delete). In manual KSK mode a removed KSK is
//     INACTIVE and waits for the operator to delete it, as in Route 53.
//   - A zone with no ZSK gets one (CreateZSK); with automatic KSK rollover, a zone with no KSK
//     gets one (CreateKSK). These first keys are active at once: nothing signed by them can be
//     cached yet, and the parent DS is added only after signing starts (Route 53's procedure).
//   - A KSK in a double-KSK rollover that is Ready waits for its DS: CheckParentDS every
//     DSCheckInterval; SwapKSK as soon as the parent shows the new DS at every server and no
//     old DS at any (or after ConfirmDS), and again if a later check contradicts that before the
//     swap takes effect. After DSWaitLimit without the swap it is ACTION_NEEDED.
//   - An algorithm rollover whose new ZSK exists gets its new KSK (CreateKSK with the new
//     algorithm) at once.
//   - A new rollover starts only when no rollover of the zone is in progress (a key has a
//     timestamp ahead, or a KSK waits for its DS) and no KSK is ACTION_NEEDED: first an
//     algorithm rollover, when Policy.Algorithm differs from the active KSK's (CreateZSK with
//     the new algorithm); else CreateZSK at the current ZSK's Active + ZSKLifetime -
//     PublishInterval, so that the successor signs exactly at the end of the lifetime, or
//     CreateKSK at the current KSK's Active + KSKLifetime. When both are due, the earlier goes
//     first.
func Plan(keys []Key, p Policy, now time.Time) (actions []Action, next time.Time, status Status) {
	p = p.WithDefaults()
	var w wake
	w.now = now
	for _, k := range keys {
		for _, t := range k.timestamps() {
			w.at(t)
		}
	}

	status.Keys = make([]KeyStatus, len(keys))
	for i, k := range keys {
		status.Keys[i] = keyStatus(k, now)
	}

	actions = append(actions, deletions(keys, p, now, status.Keys)...)
	actions = append(actions, parentActions(keys, p, now, &w, status.Keys)...)
	actions = append(actions, algorithmKSK(keys, p, now)...)
	status.AlgorithmFrom, status.AlgorithmTo = algorithmRollover(keys, p, now)

	for i, k := range keys {
		if k.Role == keystore.KSK && !k.ActionNeeded.IsZero() && !reached(k.Remove, now) {
			ks := &status.Keys[i]
			if !ks.NeedsAction || k.ActionNeeded.Before(ks.NeedsActionSince) {
				ks.NeedsActionSince = k.ActionNeeded
			}
			ks.NeedsAction = true
			ks.Note = joinNote(ks.Note, "the key is unusable (see keymgr's log)")
		}
	}
	for _, ks := range status.Keys {
		if ks.NeedsAction && ks.Role == keystore.KSK {
			status.Paused = true
			status.Reason = fmt.Sprintf("rollovers paused: KSK %d is ACTION_NEEDED since %s", ks.Tag, ks.NeedsActionSince.UTC().Format(time.RFC3339))
			break
		}
	}

	switch {
	case inProgress(keys, keystore.KSK, now):
		status.Rolling = keystore.KSK
	case inProgress(keys, keystore.ZSK, now):
		status.Rolling = keystore.ZSK
	}

	actions = append(actions, starts(keys, p, now, &w, &status)...)
	return actions, w.next, status
}

// wake collects the earliest instant after now.
type wake struct {
	now, next time.Time
}

func (w *wake) at(t time.Time) {
	if t.After(w.now) && (w.next.IsZero() || t.Before(w.next)) {
		w.next = t
	}
}

func keyStatus(k Key, now time.Time) KeyStatus {
	n, ns := k.next(now)
	ks := KeyStatus{
		ID: k.ID, Role: k.Role, Tag: k.Tag, State: k.State(now), Next: n, NextState: ns,
		InDNSKEY: k.InDNSKEY(now), Signs: k.Signs(now), InCDS: k.InCDS(now),
	}
	switch {
	case ks.Signs && !reached(k.Publish, now):
		ks.Note = "algorithm rollover: signs ahead of its publication at " + k.Publish.UTC().Format(time.RFC3339)
	case ks.Signs && !ks.InDNSKEY:
		ks.Note = "algorithm rollover: out of the DNSKEY RRset; its signatures stay until " + k.Retire.UTC().Format(time.RFC3339)
	}
	return ks
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// deletions returns a Delete for every key that has left the DNSKEY RRset for good.
func deletions(keys []Key, p Policy, now time.Time, st []KeyStatus) []Action {
	var out []Action
	for i, k := range keys {
		if !k.gone(now) {
			continue
		}
		if k.Role == keystore.KSK && !p.KSKAutomatic {
			st[i].Note = "inactive: delete it when no longer needed"
			continue
		}
		out = append(out, Action{Kind: Delete, Role: k.Role, KeyID: k.ID, At: k.Remove,
			Why: fmt.Sprintf("%s %d left the DNSKEY RRset at %s", k.Role, k.Tag, k.Remove.UTC().Format(time.RFC3339))})
	}
	return out
}

// rolling reports whether k is the new KSK of a double-KSK rollover whose swap has not taken
// effect: it has a Ready instant and no Active instant reached yet.
func rolling(k Key, now time.Time) bool {
	return k.Role == keystore.KSK && !k.Ready.IsZero() && !reached(k.Active, now) && k.Remove.IsZero()
}

// predecessors returns the KSKs that the rolling KSK k replaces: every other KSK not removed.
func predecessors(keys []Key, k Key, now time.Time) []Key {
	var out []Key
	for _, o := range keys {
		if o.Role == keystore.KSK && o.ID != k.ID && !reached(o.Remove, now) {
			out = append(out, o)
		}
	}
	return out
}

// swapTime returns when the rolling KSK k may become active and its predecessors go: the later
// of the new DS being seen at every parent server and every old DS being gone from them, plus
// DSSwapInterval. It returns zero while the parent does not show that yet.
func swapTime(keys []Key, k Key, p Policy, now time.Time) time.Time {
	if k.DSSeen.IsZero() {
		return time.Time{}
	}
	t := k.DSSeen
	for _, o := range predecessors(keys, k, now) {
		if o.DSGone.IsZero() {
			return time.Time{}
		}
		if o.DSGone.After(t) {
			t = o.DSGone
		}
	}
	return t.Add(p.DSSwapInterval())
}

// parentActions handles the KSKs waiting for the parent: DS checks, the swap, ACTION_NEEDED.
func parentActions(keys []Key, p Policy, now time.Time, w *wake, st []KeyStatus) []Action {
	var out []Action
	for i, k := range keys {
		if !rolling(k, now) || !reached(k.Ready, now) {
			continue
		}
		target := swapTime(keys, k, p, now)
		if !target.Equal(k.Active) {
			why := "the parent shows the new DS at every server and no old DS"
			if target.IsZero() {
				why = "the parent no longer shows the DS change; the swap is called off"
			}
			out = append(out, Action{Kind: SwapKSK, Role: keystore.KSK, KeyID: k.ID, At: now, Why: why})
		}
		if k.DSConfirmed.IsZero() {
			due := k.Ready
			if !k.DSChecked.IsZero() && !k.DSChecked.Before(due) {
				due = k.DSChecked.Add(p.DSCheckInterval)
			}
			if reached(due, now) {
				out = append(out, Action{Kind: CheckParentDS, Role: keystore.KSK, KeyID: k.ID, At: due,
					Why: fmt.Sprintf("KSK %d waits for its DS at the parent", k.Tag)})
				w.at(now.Add(p.DSCheckInterval))
			} else {
				w.at(due)
			}
		}
		if !target.IsZero() {
			st[i].Note = "DS change seen at the parent; the new KSK becomes active at " + target.UTC().Format(time.RFC3339)
			continue
		}
		st[i].Note = "waiting for the parent to publish the new DS and withdraw the old (CDS/CDNSKEY published)"
		limit := k.Ready.Add(p.DSWaitLimit)
		if reached(limit, now) {
			st[i].NeedsAction, st[i].NeedsActionSince = true, limit
			st[i].Note += fmt.Sprintf("; waited longer than %v: update the DS at the registrar or confirm by hand", p.DSWaitLimit)
		} else {
			w.at(limit)
		}
	}
	return out
}

// inProgress reports whether a rollover of role is running: a key of that role has a planned
// instant ahead, or (KSK) waits for its DS.
func inProgress(keys []Key, role keystore.Role, now time.Time) bool {
	for _, k := range keys {
		if k.Role != role {
			continue
		}
		if rolling(k, now) {
			return true
		}
		for _, t := range k.timestamps() {
			if t.After(now) {
				return true
			}
		}
	}
	return false
}

// current returns the newest key of role that is active at now (latest Active), if any.
func current(keys []Key, role keystore.Role, now time.Time) (Key, bool) {
	var cur Key
	found := false
	for _, k := range keys {
		if k.Role == role && k.State(now) == Active && (!found || k.Active.After(cur.Active)) {
			cur, found = k, true
		}
	}
	return cur, found
}

// live reports whether the zone has a key of role that is not removed.
func live(keys []Key, role keystore.Role, now time.Time) bool {
	for _, k := range keys {
		if k.Role == role && !reached(k.Remove, now) {
			return true
		}
	}
	return false
}

// starts returns the CreateZSK or CreateKSK due, if any, and fills the rollover due times in st.
func starts(keys []Key, p Policy, now time.Time, w *wake, st *Status) []Action {
	var out []Action
	// A zone's first key takes the algorithm of the key it already has, if any: a change of
	// algorithm is an algorithm rollover, which starts once both keys exist.
	first := anchorAlgorithm(keys, now)
	if first == 0 {
		first = p.Algorithm
	}
	if !live(keys, keystore.ZSK, now) {
		out = append(out, Action{Kind: CreateZSK, Role: keystore.ZSK, Algorithm: first, At: now, Why: "the zone has no ZSK"})
	}
	if p.KSKAutomatic && !live(keys, keystore.KSK, now) {
		out = append(out, Action{Kind: CreateKSK, Role: keystore.KSK, Algorithm: first, At: now, Why: "the zone has no KSK"})
	}
	if len(out) > 0 {
		return out
	}

	var zdue, kdue time.Time
	var zalg, kalg uint8
	if z, ok := current(keys, keystore.ZSK, now); ok && p.ZSKLifetime > 0 && z.Retire.IsZero() {
		zdue, zalg = z.Active.Add(p.ZSKLifetime-p.PublishInterval()), z.Algorithm
	}
	if k, ok := current(keys, keystore.KSK, now); ok && p.KSKAutomatic && p.KSKLifetime > 0 && k.Remove.IsZero() {
		kdue, kalg = k.Active.Add(p.KSKLifetime), k.Algorithm
	}
	st.NextZSKRollover, st.NextKSKRollover = zdue, kdue
	if st.Rolling != 0 || st.Paused {
		// The next wake-up comes from the rollover's timestamps, or from keymgr re-planning
		// when the KSK recovers.
		return nil
	}
	_, hasKSK := current(keys, keystore.KSK, now)
	if from := anchorAlgorithm(keys, now); (p.KSKAutomatic || hasKSK) && p.Algorithm != 0 && from != 0 && from != p.Algorithm {
		// With manual KSK rollover the zone's KSK is the operator's: without one there is no
		// trust anchor to roll from.
		return []Action{{Kind: CreateZSK, Role: keystore.ZSK, Algorithm: p.Algorithm, At: now,
			Why: fmt.Sprintf("algorithm rollover from %d to %d: the new algorithm's ZSK signs before it is published", from, p.Algorithm)}}
	}
	pick, role, alg, why := zdue, keystore.ZSK, zalg, "ZSK lifetime %v ends at %s"
	if !kdue.IsZero() && (zdue.IsZero() || kdue.Before(zdue)) {
		pick, role, alg, why = kdue, keystore.KSK, kalg, "KSK lifetime %v ends at %s"
	}
	if pick.IsZero() {
		return nil
	}
	if !reached(pick, now) {
		w.at(pick)
		return nil
	}
	kind, life, end := CreateZSK, p.ZSKLifetime, pick.Add(p.PublishInterval())
	if role == keystore.KSK {
		kind, life, end = CreateKSK, p.KSKLifetime, pick
	}
	return []Action{{Kind: kind, Role: role, Algorithm: alg, At: pick, Why: fmt.Sprintf(why, life, end.UTC().Format(time.RFC3339))}}
}

// anchorAlgorithm returns the algorithm of the zone's trust anchor: its newest active KSK, or
// with none its newest active ZSK; zero when there is neither or the key does not say.
func anchorAlgorithm(keys []Key, now time.Time) uint8 {
	if k, ok := current(keys, keystore.KSK, now); ok {
		return k.Algorithm
	}
	if k, ok := current(keys, keystore.ZSK, now); ok {
		return k.Algorithm
	}
	return 0
}

// algorithmRollover returns the algorithms an algorithm rollover moves between: while one
// runs, those of the oldest and the newest key not gone; while one is due, the trust anchor's
// and the policy's. Zeros when there is none.
func algorithmRollover(keys []Key, p Policy, now time.Time) (from, to uint8) {
	if from, to := algorithmRunning(keys, now); from != to {
		return from, to
	}
	if a := anchorAlgorithm(keys, now); p.Algorithm != 0 && a != 0 && a != p.Algorithm {
		return a, p.Algorithm
	}
	return 0, 0
}

// algorithmRunning returns the algorithms of the oldest and the newest key not gone: different
// while an algorithm rollover runs.
func algorithmRunning(keys []Key, now time.Time) (from, to uint8) {
	var oldest, newest Key
	for _, k := range keys {
		if k.Algorithm == 0 || k.gone(now) {
			continue
		}
		if oldest.ID == "" || k.Created.Before(oldest.Created) {
			oldest = k
		}
		if newest.ID == "" || !k.Created.Before(newest.Created) {
			newest = k
		}
	}
	return oldest.Algorithm, newest.Algorithm
}

// algorithmKSK returns the CreateKSK that an algorithm rollover needs once its new ZSK exists:
// a ZSK whose algorithm is not the trust anchor's and that no KSK has yet. Asking for it from
// the keys, rather than creating both keys in one action, makes a crash between the two
// creations harmless: the KSK is created at the restart.
func algorithmKSK(keys []Key, p Policy, now time.Time) []Action {
	anchor := anchorAlgorithm(keys, now)
	if anchor == 0 {
		return nil
	}
	for _, z := range keys {
		if z.Role != keystore.ZSK || z.Algorithm == 0 || z.Algorithm == anchor || reached(z.Remove, now) {
			continue
		}
		if slices.ContainsFunc(keys, func(k Key) bool {
			return k.Role == keystore.KSK && k.Algorithm == z.Algorithm && !reached(k.Remove, now)
		}) {
			continue
		}
		return []Action{{Kind: CreateKSK, Role: keystore.KSK, Algorithm: z.Algorithm, At: z.Created,
			Why: fmt.Sprintf("algorithm rollover from %d to %d: the new algorithm's KSK, published with its ZSK", anchor, z.Algorithm)}}
	}
	return nil
}
