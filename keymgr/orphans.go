package keymgr

import (
	"context"
	"errors"
	"maps"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

// listing is what one List of every zone found in a keystore: the keys by zone, and the
// entries it could not read.
type listing struct {
	byZone     map[string][]keystore.Meta
	unreadable []keystore.Unreadable
	err        error // the listing failed as a whole: no orphan is dropped
}

// listings is a step's listing of each keystore, by the keyRec.Store name.
type listings map[string]*listing

// keystores returns the stores whose orphans are dropped, by their keyRec.Store names.
func (m *Manager) keystores() []struct {
	store keystore.Store
	which string
} {
	return []struct {
		store keystore.Store
		which string
	}{{m.cfg.Soft, storeSoft}, {m.cfg.TPM, storeTPM}}
}

// orphansDue reports whether a zone's orphans are to be dropped at this step. It takes no
// zone's lock: one held by a long operation must not hold up the other zones' steps. A zone
// whose orphans fall due after it looked lists its keys alone (dropOrphans).
func orphansDue(zones []*zone) bool {
	for _, z := range zones {
		if z.orphans.Load() {
			return true
		}
	}
	return false
}

// listAll lists every zone's keys in each keystore once. An entry a store cannot read is
// logged (its file or etcd key and what is wrong: the metadata holds no key material) and
// counted for the metrics; it stays out of every zone's listing, so it is never taken for
// an orphan, and a zone whose state names it finds the key unusable when it opens it.
func (m *Manager) listAll(ctx context.Context) listings {
	out := listings{}
	counts := map[string]int{}
	for _, s := range m.keystores() {
		if s.store == nil {
			continue
		}
		metas, err := s.store.List(ctx, "")
		l := &listing{byZone: map[string][]keystore.Meta{}}
		var ue *keystore.UnreadableError
		switch {
		case errors.As(err, &ue):
			l.unreadable = ue.Entries
			for _, u := range ue.Entries {
				m.log.Error("keystore entry cannot be read: left out, its key neither used nor deleted until it is repaired",
					"store", s.which, "where", u.Where, "zone", u.Zone, "key", u.ID, "err", u.Err)
			}
		case err != nil:
			m.log.Warn("list keystore keys", "store", s.which, "err", err)
			l.err = err
			out[s.which] = l
			continue
		}
		for _, meta := range metas {
			l.byZone[meta.Zone] = append(l.byZone[meta.Zone], meta)
		}
		counts[s.which] = len(l.unreadable)
		out[s.which] = l
	}
	m.unreadableMu.Lock()
	if m.unreadable == nil {
		m.unreadable = map[string]int{}
	}
	maps.Copy(m.unreadable, counts)
	m.unreadableMu.Unlock()
	return out
}

// UnreadableKeys returns, by keystore ("soft", "tpm"), how many entries the key manager's
// last listing of every zone's keys could not read (a metadata file or value damaged): keys
// that are neither used nor deleted until they are repaired.
func (m *Manager) UnreadableKeys() map[string]int {
	m.unreadableMu.Lock()
	defer m.unreadableMu.Unlock()
	return maps.Clone(m.unreadable)
}

// dropOrphans deletes the zone's keystore keys that its state does not name: keys created
// by an action whose state was never written (a crash between the two), or deleted from the
// state by an action whose keystore deletion did not happen. The keys are those of lists
// (the step's listing of every zone), or of a listing of the zone alone when lists is nil. A
// key whose metadata cannot be read is never one: it is left out of every listing, so it is
// never deleted; and when the zone's state names it, its lazy signer is opened now, so that
// the zone fails as one whose key cannot be opened does (withheld) without waiting for a
// query that needs it. Call with z.mu held.
func (m *Manager) dropOrphans(ctx context.Context, z *zone, lists listings) {
	named := z.st.ids()
	for _, s := range m.keystores() {
		if s.store == nil {
			continue
		}
		var metas []keystore.Meta
		var unreadable []keystore.Unreadable
		if l, ok := lists[s.which]; ok {
			if l.err != nil {
				continue // logged by listAll
			}
			metas, unreadable = l.byZone[z.name], l.unreadable
		} else {
			var err error
			metas, err = s.store.List(ctx, z.name)
			var ue *keystore.UnreadableError
			if errors.As(err, &ue) {
				unreadable = ue.Entries
			} else if err != nil {
				m.log.Warn("list keystore keys", "zone", z.name, "store", s.which, "err", err)
				continue
			}
		}
		for _, u := range unreadable {
			if u.ID == "" || !named[u.ID] {
				continue
			}
			m.log.Error("a key the zone's state names cannot be read in the keystore", "zone", z.name, "key", u.ID, "where", u.Where, "err", u.Err)
			if l, ok := z.signers[u.ID].(*lazySigner); ok {
				_, _ = l.signer() // a ZSK's failure is recorded (openFailed) for this step
			}
		}
		for _, meta := range metas {
			if named[meta.ID] || meta.Zone != z.name {
				continue
			}
			m.log.Warn("deleting a key no state names (left by a crash)", "zone", z.name, "key", meta.ID, "role", meta.Role)
			m.deleteFromStore(ctx, z, &keyRec{Key: rollover.Key{ID: meta.ID}, Store: s.which})
		}
	}
}
