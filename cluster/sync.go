package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/statestore"
)

// DefaultSyncTimeout is how long, by default, the leader waits for every live instance to
// serve a ring change before counting the next interval from the timeout, and how long a
// follower may stay behind the state etcd holds before it stops answering for the zone.
const DefaultSyncTimeout = 30 * time.Second

// keepSyncs is how many ring changes per zone the leader's report keeps.
const keepSyncs = 16

// SyncRecord is one ring change of a zone as the leader saw it served: from Committed (the
// leader's swap-in) to Synced (the last live instance's, or Committed plus the sync timeout
// when Laggards did not serve it in time). The next step's interval counts from Synced.
type SyncRecord struct {
	Revisions keymgr.Revisions `json:"revisions"`
	Committed time.Time        `json:"committed"`
	Synced    time.Time        `json:"synced"`
	Laggards  []string         `json:"laggards,omitempty"`
}

// peers keeps the presence reports of the live instances: a key bound to each instance's
// lease, so an instance that died or lost etcd for longer than its lease is gone from it.
type peers struct {
	mu sync.Mutex
	in map[string]Instance
	ok bool // the watch is current
}

func (p *peers) set(name string, in *Instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in == nil {
		delete(p.in, name)
	} else {
		p.in[name] = *in
	}
}

// watchPeers keeps n.peers current (a read of every presence key, then a watch from its
// revision) until ctx ends, and wakes the key manager at each change: a ring change it waits
// for may be served everywhere now.
func (n *Node) watchPeers(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		resp, err := n.cfg.Client.Get(ctx, n.cfg.Prefix+"instances/", clientv3.WithPrefix())
		if err != nil {
			if ctx.Err() == nil && !backoff(ctx, i) {
				return
			}
			continue
		}
		all := map[string]Instance{}
		for _, kv := range resp.Kvs {
			var in Instance
			if json.Unmarshal(kv.Value, &in) == nil {
				all[in.Name] = in
			}
		}
		n.peers.mu.Lock()
		n.peers.in, n.peers.ok = all, true
		n.peers.mu.Unlock()
		n.cfg.Manager.Wake()
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for wr := range n.cfg.Client.Watch(wctx, n.cfg.Prefix+"instances/", clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)) {
			if wr.Err() != nil || wr.CompactRevision != 0 {
				break
			}
			for _, ev := range wr.Events {
				name := strings.TrimPrefix(string(ev.Kv.Key), n.cfg.Prefix+"instances/")
				if ev.Type == clientv3.EventTypeDelete {
					n.peers.set(name, nil)
					continue
				}
				var in Instance
				if json.Unmarshal(ev.Kv.Value, &in) == nil {
					n.peers.set(name, &in)
				}
			}
			n.cfg.Manager.Wake()
		}
		cancel()
		n.peers.mu.Lock()
		n.peers.ok = false
		n.peers.mu.Unlock()
		i = 0
		if !backoff(ctx, i) {
			return
		}
	}
}

// Synced implements keymgr.SyncWaiter: the latest instant at which a live instance that
// serves the zone started serving the ring made from rev or a later one (never before
// committed, the leader's own swap-in, nor after now: a clock ahead of the leader's does not
// postpone the rollover further). While a live instance has not reported it, false, until
// the sync timeout after committed: then the leader counts from the timeout, and says which
// instances lag (they stop answering for the zone themselves, see the stale check).
func (n *Node) Synced(zone string, rev keymgr.Revisions, committed time.Time) (time.Time, bool) {
	now := n.cfg.Now()
	at := committed
	var laggards []string
	n.peers.mu.Lock()
	ok := n.peers.ok
	for name, in := range n.peers.in {
		z, serves := in.Zones[zone]
		if name == n.cfg.Name || !serves {
			continue
		}
		if z.Revisions().Covers(rev) && !z.Since.IsZero() {
			since := z.Since
			if since.After(now) {
				since = now
			}
			at = later(at, since)
			continue
		}
		laggards = append(laggards, name)
	}
	n.peers.mu.Unlock()
	slices.Sort(laggards)
	if (len(laggards) > 0 || !ok) && now.Before(committed.Add(n.cfg.SyncTimeout)) {
		return time.Time{}, false
	}
	if len(laggards) > 0 || !ok {
		at = later(at, committed.Add(n.cfg.SyncTimeout))
		n.log.Warn("instances did not serve the new ring within the sync timeout: the next step counts from the timeout",
			"zone", zone, "state_revision", rev.State, "laggards", strings.Join(laggards, ","), "sync_timeout", n.cfg.SyncTimeout)
	} else {
		n.log.Info("every live instance serves the new ring", "zone", zone, "state_revision", rev.State, "lag", at.Sub(committed))
	}
	n.syncMu.Lock()
	recs := append(n.syncs[zone], SyncRecord{Revisions: rev, Committed: committed, Synced: at, Laggards: laggards})
	n.syncs[zone] = recs[max(0, len(recs)-keepSyncs):]
	n.syncMu.Unlock()
	n.poke()
	return at, true
}

// Syncs returns the ring changes the leader recorded, per zone, oldest first.
func (n *Node) Syncs() map[string][]SyncRecord {
	n.syncMu.Lock()
	defer n.syncMu.Unlock()
	out := make(map[string][]SyncRecord, len(n.syncs))
	for z, r := range n.syncs {
		out[z] = slices.Clone(r)
	}
	return out
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// track is what a follower knows of one zone in etcd, against what it serves.
type track struct {
	latest keymgr.Revisions // the newest revisions etcd reported
	behind time.Time        // since when this instance serves older ones (zero: it does not)
	stale  string           // why its ring is behind etcd's ("" while it is not)
	peer   string           // why, cut off from etcd, it finds its ring differs from a peer's
	// peerOnce: one round of the peer check found a difference (peer is set at the second)
	peerOnce bool
	held     string // the reason it does not answer for the zone ("" while it does)
}

// trackOf returns the zone's track; call with n.trackMu held.
func (n *Node) trackOf(zone string) *track {
	t := n.track[zone]
	if t == nil {
		t = &track{}
		n.track[zone] = t
	}
	return t
}

// applyHold has the key manager withhold the zone while a reason holds (its ring behind
// etcd's, or a peer's differing while cut off from etcd), and answer again when none does.
func (n *Node) applyHold(zone string) {
	n.trackMu.Lock()
	t := n.trackOf(zone)
	want := t.stale
	if want == "" {
		want = t.peer
	}
	changed := want != t.held
	t.held = want
	if changed {
		// Under trackMu: two checks that change the reason at once apply it in order.
		why := ""
		if want != "" {
			why = "key ring behind the cluster's: ask another name server"
		}
		_ = n.cfg.Manager.Hold(zone, why)
	}
	n.trackMu.Unlock()
	if !changed {
		return
	}
	if want != "" {
		n.log.Error("stopped answering for the zone (SERVFAIL, EDE 14): its ring is not the cluster's", "zone", zone, "why", want)
	} else {
		n.log.Info("answering for the zone again: it serves the cluster's ring", "zone", zone)
	}
	n.poke()
}

// note records a revision etcd reported for a zone's document (0: deleted).
func (n *Node) note(zone string, doc statestore.Doc, rev statestore.Revision) {
	n.trackMu.Lock()
	defer n.trackMu.Unlock()
	t := n.trackOf(zone)
	switch doc {
	case statestore.KeyState:
		t.latest.State = rev
	case statestore.Premade:
		t.latest.Premade = rev
	}
}

// readLatest reads the revision of every zone document from etcd, in case a watch missed
// one (the follower's periodic resync).
func (n *Node) readLatest(ctx context.Context) {
	resp, err := n.cfg.Client.Get(ctx, n.cfg.Prefix+"zones/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return // the sync that follows reports it
	}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), n.cfg.Prefix+"zones/")
		i := strings.LastIndexByte(rest, '/')
		if i < 0 {
			continue
		}
		n.note(rest[:i], statestore.Doc(rest[i+1:]), statestore.Revision(kv.ModRevision))
	}
}

// checkStale compares, for each zone, the ring served with the newest state etcd reported.
// A follower that has served an older one for longer than the sync timeout stops answering
// for the zone (SERVFAIL with EDE 14, Not Ready): the leader has gone on counting without
// it, so its ring could soon be one the validators no longer accept; resolvers ask another
// name server instead. It answers again once it serves the newest ring. The leader serves its
// own state and is never behind.
func (n *Node) checkStale() {
	now := n.cfg.Now()
	leading := n.Leading()
	for _, zone := range n.cfg.Manager.Zones() {
		served, err := n.cfg.Manager.Served(zone)
		if err != nil {
			continue
		}
		n.trackMu.Lock()
		t := n.trackOf(zone)
		switch {
		case leading || served.Covers(t.latest):
			t.behind, t.stale = time.Time{}, ""
		case !n.EtcdUp():
			// Behind because etcd does not answer: the outage case, where every instance
			// keeps serving its ring. The clock starts again once etcd answers; a zone
			// already stale stays so (its ring is known to be old).
			t.behind = time.Time{}
		case t.stale == "" && served.State == 0 && t.latest.State > 0 && served.Err != "":
			// Never served a ring of the zone and cannot build one (a member just added,
			// whose ZSKs are not encrypted to it yet): its answers would carry no signatures
			// for a zone the others sign, so it withholds the zone at once rather than after
			// the sync timeout.
			if t.behind.IsZero() {
				t.behind = now
			}
			t.stale = fmt.Sprintf("this instance has served no key ring of the zone yet, etcd holds revision %d: %s",
				t.latest.State, served.Err)
		case t.behind.IsZero():
			t.behind = now
		case t.stale == "" && !now.Before(t.behind.Add(n.cfg.SyncTimeout)):
			why := served.Err
			if why == "" {
				why = "its pre-made signatures have not arrived"
			}
			t.stale = fmt.Sprintf("this instance serves revision %d of the key state, etcd holds %d, for %s: %s",
				served.State, t.latest.State, now.Sub(t.behind).Round(time.Second), why)
		}
		n.trackMu.Unlock()
		n.applyHold(zone)
	}
}

// Stale returns, per zone, why this instance does not answer for it (a follower whose ring
// stayed behind etcd's for longer than the sync timeout, or that is cut off from etcd and
// finds another ring at a peer); empty when it answers for all.
func (n *Node) Stale() map[string]string {
	n.trackMu.Lock()
	defer n.trackMu.Unlock()
	out := map[string]string{}
	for z, t := range n.track {
		if t.held != "" {
			out[z] = t.held
		}
	}
	return out
}

// guard asks etcd a trivial question and runs checkStale a few times per sync timeout, at
// least every second, until ctx ends. The question keeps EtcdUp current while nothing else
// is asked (a follower with nothing to sync, a leader with nothing to write): the staleness
// check, /readyz and the metric read it.
func (n *Node) guard(ctx context.Context) {
	tick := time.NewTicker(min(n.cfg.SyncTimeout/4, reportEvery))
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			pctx, cancel := context.WithTimeout(ctx, reportEvery)
			_, err := n.cfg.Client.Get(pctx, n.electionKey(), clientv3.WithPrefix(), clientv3.WithCountOnly())
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				n.up.Store(true)
			} else {
				// Logged once per outage: the other requests log their own failures.
				n.etcdErrors.Add(1)
				if n.up.Swap(false) {
					n.log.Warn("etcd does not answer", "err", err)
				}
			}
			n.checkStale()
		case <-ctx.Done():
			return
		}
	}
}
