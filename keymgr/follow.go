package keymgr

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/statestore"
)

// A Manager leads or follows. A single server always leads. In a cluster one instance at a
// time leads: it runs the loop (Run) and carries out the admin operations; the others follow:
// they never write the shared state, refuse operations (naming the leader), and serve the
// rings the leader's state describes, as Sync loads them, with the leader's pre-made KSK
// signatures (a follower need not hold the KSK).

// Follow makes the Manager a follower of the instance named leader ("" when unknown). The
// caller stops Run first: a follower's state changes come only through Sync. A failure the
// zones' lifecycle met while leading (a state save that etcd refused or did not answer) is
// the leader's to retry, no longer this instance's status: it is cleared.
func (m *Manager) Follow(leader string) {
	if old := m.leader.Swap(&leader); old != nil {
		return // following already
	}
	for _, name := range m.Zones() {
		z, _ := m.zone(name)
		_ = m.change(z, func(time.Time) error {
			z.failure = ""
			z.pending = nil
			if z.cur.Load() != nil {
				// As leader it served its own state: saves that changed no ring (a DS
				// check) moved the revisions, not the ring.
				z.served.Revisions = Revisions{State: z.stateRev, Premade: z.premadeRev}
			}
			z.retryAt, z.backoff = time.Time{}, 0
			return nil
		})
	}
}

// Lead makes the Manager the leader: it syncs every zone, so that the loop starts from the
// latest state, then applies the quick start to zones that ask for it and have no state yet
// (the first leader of a new cluster makes the keys). The caller runs Run next. A zone that
// cannot be synced (the store does not answer) is an error, and the Manager still leads.
func (m *Manager) Lead(ctx context.Context) error {
	var errs []error
	for _, name := range m.Zones() {
		if err := m.Sync(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("zone %s: %w", name, err))
		}
	}
	m.leader.Store(nil)
	for _, name := range m.Zones() {
		z, _ := m.zone(name)
		err := m.change(z, func(now time.Time) error {
			if z.cur.Load() != nil && m.syncWaiter() != nil {
				// The last leader may have died just after a change: its steps wait until
				// every live instance serves the ring this one took over.
				z.pending = &ringChange{rev: Revisions{State: z.stateRev, Premade: z.premadeRev}, at: now}
			}
			if z.st != nil || !z.policy.QuickStart {
				return nil
			}
			return m.quickStart(ctx, z, now)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("quick start %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// Following returns the leader this Manager follows, and whether it follows.
func (m *Manager) Following() (string, bool) {
	if p := m.leader.Load(); p != nil {
		return *p, true
	}
	return "", false
}

// Zones returns the names of the zones the Manager holds.
func (m *Manager) Zones() []string {
	zones := m.all()
	out := make([]string, 0, len(zones))
	for _, z := range zones {
		out = append(out, z.name)
	}
	return out
}

// Revision returns the state store revision of the zone's key state and pre-made signatures
// that this Manager serves.
func (m *Manager) Revision(zone string) (state, premade statestore.Revision, err error) {
	z, err := m.zone(zone)
	if err != nil {
		return 0, 0, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.stateRev, z.premadeRev, nil
}

// Sync re-reads the zone's key state and pre-made signatures from the state store and, when
// either changed since this Manager last read or wrote them, serves the ring they describe.
// A follower calls it for each change the store's Watch reports (its own writes come back
// unchanged and cost one read), and a new leader for every zone before it runs the loop.
// A ring that cannot be built yet (a new state whose pre-made signatures have not arrived, a
// key this instance cannot read) leaves the current ring served, and the next Sync tries
// again.
func (m *Manager) Sync(ctx context.Context, zone string) error {
	z, err := m.zone(zone)
	if err != nil {
		return err
	}
	// The reads happen under the zone's lock: a read that raced a save of the leader's own
	// (or a newer Sync) could otherwise put an older state back.
	// Bounded: the zone's lock is held, and a store that does not answer must not hold up
	// the status calls that take it.
	ctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	return m.change(z, func(now time.Time) error {
		st, rev, err := m.loadState(ctx, z.name)
		if err != nil {
			return err
		}
		premadeRev, err := m.premadeRevision(ctx, z.name)
		if err != nil {
			return err
		}
		_, following := m.Following()
		behind := following && !z.served.Covers(Revisions{State: rev, Premade: premadeRev})
		if rev != z.stateRev || premadeRev != z.premadeRev || z.unbuilt || behind {
			m.follow(ctx, z, st, rev, now)
		}
		return nil
	})
}

// follow serves the ring z's state describes at now with the saved pre-made KSK signatures;
// call with z.mu held. An unsigned zone serves no ring. A state whose ring cannot be built
// (its pre-made signatures have not arrived yet) is not adopted: the current ring stays, and
// the next Sync tries again (a key this instance cannot decrypt yet included: a member added
// to a cluster serves once the leader has encrypted the keys to it).
func (m *Manager) follow(ctx context.Context, z *zone, st *zoneState, rev statestore.Revision, now time.Time) {
	z.unbuilt = false
	if st == nil || !st.Signing {
		z.st, z.stateRev = st, rev
		z.install(nil, false, time.Time{})
		m.serving(z, st, now, now)
		return
	}
	ring, p, err := m.premadeRing(ctx, z, st, now)
	if err != nil {
		z.unbuilt = true
		if !errors.Is(err, statestore.ErrNotFound) {
			m.log.Warn("the leader's state and pre-made signatures do not make a ring (yet)", "zone", z.name, "err", err)
		}
		z.served.Err = err.Error()
		if z.st == nil {
			z.st, z.stateRev = st, rev
			z.signed.Store(true)
		}
		return
	}
	z.st, z.stateRev = st, rev
	z.install(ring, true, p.made)
	m.keepLocal(ctx, z, st, p)
	m.serving(z, st, p.made, now)
}

// canPublish reports whether this Manager may publish rec, a key of DNSKEY flags flags,
// from its recorded public key without holding it: as a follower, a KSK in the leader's own
// store (the leader's pre-made signatures stand for its signatures). Never a ZSK: every
// instance signs with the ZSKs, so a ring with one it cannot open would fail every answer;
// such a ring is not built, and the follower tries again (a member added to the cluster,
// once the leader has encrypted the ZSKs to it).
func (m *Manager) canPublish(rec *keyRec, flags uint16) bool {
	_, following := m.Following()
	return following && flags&dns.SEP != 0 && len(rec.PublicKey) > 0
}

// errNotHeld is the error of a publicOnly signer.
var errNotHeld = errors.New("this instance does not hold the key: its leader signs with it")

// publicKey is a key this instance publishes but does not hold: the ring takes its
// signatures from the leader's pre-made ones, and a signature asked of it fails.
type publicKey struct{ pub crypto.PublicKey }

func (p publicKey) Public() crypto.PublicKey { return p.pub }

func (p publicKey) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errNotHeld
}

// publicOnly returns the signer of rec's recorded public key.
func publicOnly(rec *keyRec) (crypto.Signer, error) {
	pub, err := x509.ParsePKIXPublicKey(rec.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("key %s: recorded public key: %w", rec.ID, err)
	}
	return publicKey{pub: pub}, nil
}
