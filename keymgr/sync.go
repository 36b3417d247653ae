package keymgr

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/statestore"
)

// In a cluster the leader's change of a zone's ring (the DNSKEY RRset, or the keys that sign)
// reaches the other instances a little later. The RFC 7583 intervals that follow the change
// assume every name server serves it: they count from when the last live instance does. The
// leader asks its SyncWaiter (the cluster) when that was, holds the zone's next step until it
// knows, then moves the rest of the rollover's planned instants by the lag.

// syncPoll is how often the loop asks again while a ring change is not yet served everywhere.
const syncPoll = 250 * time.Millisecond

// Revisions identify a ring: the state store revisions of the zone's key state and pre-made
// signatures it was made from.
type Revisions struct {
	State   statestore.Revision `json:"state"`
	Premade statestore.Revision `json:"premade"`
}

// Covers reports whether a ring made from r is the one made from want or a later one.
func (r Revisions) Covers(want Revisions) bool {
	return r.State >= want.State && r.Premade >= want.Premade
}

// SyncWaiter tells the leader when every live instance serves a ring change.
type SyncWaiter interface {
	// Synced returns the instant from which every live instance serving the zone serves the
	// ring made from rev (or a later one), which the leader started serving at committed;
	// false while one does not yet. It must not block: it runs under the zone's lock.
	Synced(zone string, rev Revisions, committed time.Time) (time.Time, bool)
}

// Served is the ring an instance serves for a zone: its revisions and since when (the
// instance's clock), with why a newer state could not be served ("" when none failed).
type Served struct {
	Revisions
	Since time.Time
	Err   string
}

// ringChange is a change of the served ring the leader waits to see everywhere.
type ringChange struct {
	rev Revisions
	at  time.Time
}

// WaitFor makes the leader wait for w before each step that follows a change of a zone's
// ring (nil: never wait, as a single server does). Call it before Run.
func (m *Manager) WaitFor(w SyncWaiter) {
	if w == nil {
		m.waiter.Store(nil)
		return
	}
	m.waiter.Store(&w)
}

func (m *Manager) syncWaiter() SyncWaiter {
	if p := m.waiter.Load(); p != nil {
		return *p
	}
	return nil
}

// Wake makes the loop run its step now (a ring change it waits for may be served).
func (m *Manager) Wake() { m.poke() }

// Served returns the ring this instance serves for the zone.
func (m *Manager) Served(zone string) (Served, error) {
	z, err := m.zone(zone)
	if err != nil {
		return Served{}, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	out := z.served
	if _, following := m.Following(); !following {
		// The leader serves its own state: a save that changes no ring (a DS check) moves
		// the revision, not the ring.
		out.Revisions = Revisions{State: z.stateRev, Premade: z.premadeRev}
	}
	return out, nil
}

// ringID names the ring st makes at t: the keys in the DNSKEY RRset and the keys that sign.
func ringID(st *zoneState, t time.Time) string {
	if st == nil || !st.Signing {
		return ""
	}
	var ids []string
	for _, k := range st.timelines() {
		if k.InDNSKEY(t) {
			ids = append(ids, "p:"+k.ID)
		}
		if k.Signs(t) {
			ids = append(ids, "s:"+k.ID)
		}
	}
	slices.Sort(ids)
	return strings.Join(ids, " ")
}

// serving records that the zone now serves the ring st makes at t, from its current
// revisions; since moves only when the ring changes. A leader with a SyncWaiter then waits
// for the change to be served everywhere. Call with z.mu held, after the saves.
func (m *Manager) serving(z *zone, st *zoneState, t, now time.Time) {
	id := ringID(st, t)
	changed := id != z.ringID
	z.ringID = id
	z.served.Revisions = Revisions{State: z.stateRev, Premade: z.premadeRev}
	z.served.Err = ""
	if changed || z.served.Since.IsZero() {
		z.served.Since = now
	}
	if _, following := m.Following(); changed && !following && id != "" && m.syncWaiter() != nil {
		z.pending = &ringChange{rev: z.served.Revisions, at: now}
	}
}

// awaitSync settles the zone's pending ring change: once the SyncWaiter says when every live
// instance served it, the planned instants after the change move by the lag, so that each
// interval counts from then. It returns when to ask again while the change is not served
// everywhere (zero: nothing to wait for). Call with z.mu held.
func (m *Manager) awaitSync(ctx context.Context, z *zone, now time.Time) time.Time {
	w, p := m.syncWaiter(), z.pending
	if w == nil || p == nil {
		return time.Time{}
	}
	at, ok := w.Synced(z.name, p.rev, p.at)
	if !ok {
		return now.Add(syncPoll)
	}
	z.pending = nil
	lag := at.Sub(p.at)
	if lag <= 0 || z.st == nil {
		return time.Time{}
	}
	keys := rollover.Postpone(z.st.timelines(), p.at, lag)
	if _, err := m.storeTimelines(ctx, z, keys, now, nil, false); err != nil {
		m.log.Warn("save the rollover's instants moved by the cluster's lag", "zone", z.name, "lag", lag, "err", err)
		z.pending = p
		return now.Add(syncPoll)
	}
	m.log.Info("ring change served by every live instance: the rollover's next instants move by the lag",
		"zone", z.name, "state_revision", p.rev.State, "lag", lag)
	return time.Time{}
}

// Hold makes the zone unanswerable at this instance, for the reason why, until Hold is called
// again with "": a cluster member that cannot serve the ring the others serve answers
// SERVFAIL, so that resolvers ask another name server rather than mix two rings.
func (m *Manager) Hold(zone, why string) error {
	z, err := m.zone(zone)
	if err != nil {
		return err
	}
	var p *string
	if why != "" {
		p = &why
	}
	old := z.held.Swap(p)
	switch {
	case old == nil && p != nil:
		m.holds.Add(1)
	case old != nil && p == nil:
		m.holds.Add(-1)
	}
	if (old == nil) != (p == nil) || (old != nil && *old != why) {
		z.gen.Add(1) // no cached answer outlives the change
	}
	return nil
}

// Held reports whether the zone is held (Hold) and why. It is cheap and lock-free: the
// server asks it on every query.
func (m *Manager) Held(zone string) (string, bool) {
	if m.holds.Load() == 0 {
		return "", false
	}
	z, ok := m.lookup(zone)
	if !ok {
		return "", false
	}
	if p := z.held.Load(); p != nil {
		return *p, true
	}
	return "", false
}
