package keymgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/statestore"
)

// stateVersion is the version of the key state format; decodeState refuses any other
// version rather than guess at its meaning.
const stateVersion = 2

// persistTimeout bounds one write to the state store, so that a store that does not answer
// (a network store) fails the operation instead of holding the zone's lock forever.
const persistTimeout = 10 * time.Second

// zoneState is what persists of one zone: the signing switch and its keys with their rollover
// timelines. Everything a key's state derives from is here, so a restart after
// kill -9 resumes from the timestamps. KSK failures (ACTION_NEEDED) are persisted too, so
// that the age of a problem survives a restart; they are re-derived by the loop.
type zoneState struct {
	Version int    `json:"version"`
	Zone    string `json:"zone"`
	// Signing is Route 53's ServeSignature switch: true once EnableHostedZoneDNSSEC succeeded.
	Signing bool `json:"signing"`
	// DeleteSentinel publishes the CDS/CDNSKEY delete sentinels (RFC 8078 §4) while the zone
	// is still signed, so the parent can remove its DS before the zone goes unsigned.
	DeleteSentinel bool `json:"delete_sentinel,omitempty"`
	// ZSKLifetime is the ZSK lifetime drawn once for the zone by the route53 preset (7 to 30
	// days); zero when the policy gives the lifetime.
	ZSKLifetime time.Duration `json:"zsk_lifetime,omitempty"`
	KSKs        []*kskRec     `json:"ksks"`
	ZSKs        []*keyRec     `json:"zsks"`
	Modified    time.Time     `json:"modified"`
}

// keyRec is one key's keystore reference and its rollover timeline (rollover.Key, flattened
// into the same JSON object).
type keyRec struct {
	rollover.Key
	Store   string `json:"store"`   // which store holds it: "tpm", "local" or "soft"
	Backend string `json:"backend"` // keystore Meta.Backend, for display
	// PublicKey is the key's public key (PKIX DER), so that an instance that does not hold
	// the key (a cluster follower, for a KSK) can still publish its DNSKEY.
	PublicKey []byte `json:"public_key,omitempty"`
	// Modified is Route 53's LastModifiedDate.
	Modified time.Time `json:"modified"`
}

// kskRec is a key-signing key: a keyRec plus Route 53's name. Its Route 53 status (ACTIVE,
// INACTIVE, ACTION_NEEDED) derives from the timeline and Failure (kskStatus).
type kskRec struct {
	keyRec
	Name string `json:"name"`
	// Failure is the last signing failure of a published key, "" when it signs; while set the
	// key reports ACTION_NEEDED. FailingSince is when it started.
	Failure      string    `json:"failure,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
}

// timelines returns the keys as the planner sees them: every KSK and ZSK timeline, with a
// KSK that cannot sign marked ACTION_NEEDED since it started failing (the planner pauses
// rollovers then, as Route 53 pauses ZSK rotation).
func (s *zoneState) timelines() []rollover.Key {
	out := make([]rollover.Key, 0, len(s.KSKs)+len(s.ZSKs))
	for _, k := range s.KSKs {
		t := k.Key
		t.ActionNeeded = time.Time{}
		if k.Failure != "" {
			t.ActionNeeded = k.FailingSince
		}
		out = append(out, t)
	}
	for _, k := range s.ZSKs {
		t := k.Key
		t.ActionNeeded = time.Time{}
		out = append(out, t)
	}
	return out
}

// setTimelines writes keys (the planner's output) back: records whose key is gone are
// dropped, the others take their new timeline (ACTION_NEEDED is derived, never stored).
func (s *zoneState) setTimelines(keys []rollover.Key, now time.Time) {
	byID := make(map[string]rollover.Key, len(keys))
	for _, k := range keys {
		k.ActionNeeded = time.Time{}
		byID[k.ID] = k
	}
	update := func(r *keyRec) bool {
		k, ok := byID[r.ID]
		if !ok {
			return true
		}
		if k != r.Key {
			r.Key, r.Modified = k, now
		}
		return false
	}
	s.KSKs = slices.DeleteFunc(s.KSKs, func(r *kskRec) bool { return update(&r.keyRec) })
	s.ZSKs = slices.DeleteFunc(s.ZSKs, update)
}

// boundaries lists every planned instant of every key: the ring changes only at these.
func (s *zoneState) boundaries() []time.Time {
	var ts []time.Time
	for _, k := range s.timelines() {
		ts = append(ts, k.Publish, k.Ready, k.Active, k.Retire, k.Remove, k.CDSPublish, k.CDSRemove)
	}
	return slices.DeleteFunc(ts, time.Time.IsZero)
}

// keys returns every key record of the state, KSKs first.
func (s *zoneState) keys() []*keyRec {
	out := make([]*keyRec, 0, len(s.KSKs)+len(s.ZSKs))
	for _, k := range s.KSKs {
		out = append(out, &k.keyRec)
	}
	return append(out, s.ZSKs...)
}

// ids returns the keystore IDs the state names.
func (s *zoneState) ids() map[string]bool {
	out := map[string]bool{}
	if s == nil {
		return out // no state: it names no key
	}
	for _, k := range s.KSKs {
		out[k.ID] = true
	}
	for _, k := range s.ZSKs {
		out[k.ID] = true
	}
	return out
}

// clone returns a deep copy, so an operation can edit a copy and commit it only once it
// has been written to disk.
func (s *zoneState) clone() *zoneState {
	c := *s
	c.KSKs = make([]*kskRec, len(s.KSKs))
	for i, k := range s.KSKs {
		kc := *k
		c.KSKs[i] = &kc
	}
	c.ZSKs = make([]*keyRec, len(s.ZSKs))
	for i, k := range s.ZSKs {
		kc := *k
		c.ZSKs[i] = &kc
	}
	return &c
}

func (s *zoneState) ksk(name string) *kskRec {
	for _, k := range s.KSKs {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// encodeState is the key state document: indented JSON an operator can read.
func encodeState(s *zoneState) ([]byte, error) {
	s.Version = stateVersion
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keymgr: encode state: %w", err)
	}
	return append(b, '\n'), nil
}

// decodeState parses zone's key state document, refusing another version or zone.
func decodeState(zone string, b []byte) (*zoneState, error) {
	var s zoneState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, badState{fmt.Errorf("keymgr: state of %s: %w", zone, err)}
	}
	if s.Version != stateVersion {
		return nil, badState{fmt.Errorf("keymgr: state of %s: version %d, want %d", zone, s.Version, stateVersion)}
	}
	if s.Zone != zone {
		return nil, badState{fmt.Errorf("keymgr: state of %s is for zone %q", zone, s.Zone)}
	}
	return &s, nil
}

// ErrBadState is wrapped by the error of a zone's key state document that does not decode,
// or is not the zone's: the document's fault, which concerns that zone alone, not the
// store's (a cluster's etcd answered).
var ErrBadState = errors.New("keymgr: key state document does not decode")

// badState is a decoding error of a key state document, which is also ErrBadState.
type badState struct{ err error }

func (e badState) Error() string   { return e.err.Error() }
func (e badState) Unwrap() []error { return []error{e.err, ErrBadState} }

// loadTimeout bounds a read of the state store when a local copy could answer instead.
const loadTimeout = 3 * time.Second

// load reads a document of the zone. When the store does not answer, Config.Local is set and
// the zone is not served yet (a start), the local copy of what this instance last served
// answers, with revision 0 (so that the store's own revision, once it answers, differs and
// is read).
func (m *Manager) load(ctx context.Context, zone string, doc statestore.Doc) ([]byte, statestore.Revision, error) {
	if _, _, serving := m.Signing(zone); m.cfg.Local == nil || serving {
		// A zone served keeps its ring through an outage: the copy is for a start.
		return m.cfg.State.Load(ctx, zone, doc)
	}
	lctx, cancel := context.WithTimeout(ctx, loadTimeout)
	b, rev, err := m.cfg.State.Load(lctx, zone, doc)
	cancel()
	if err == nil || errors.Is(err, statestore.ErrNotFound) || ctx.Err() != nil {
		return b, rev, err
	}
	lb, _, lerr := m.cfg.Local.Load(ctx, zone, doc)
	if lerr != nil {
		return nil, 0, errors.Join(err, lerr)
	}
	m.log.Warn("the state store does not answer: reading the local copy", "zone", zone, "doc", doc, "err", err)
	return lb, 0, nil
}

// keepLocal copies the state and pre-made signatures of the ring just installed to
// Config.Local, pre-made signatures first, so that the copy describes a ring that was
// served. Failures are logged: only a restart during a store outage needs the copy.
func (m *Manager) keepLocal(ctx context.Context, z *zone, st *zoneState, p premadeSet) {
	if m.cfg.Local == nil || st == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, persistTimeout)
	defer cancel()
	pb, err := encodePremade(z.name, p)
	if err != nil {
		m.log.Error("local copy", "zone", z.name, "err", err)
		return
	}
	sb, err := encodeState(st.clone())
	if err != nil {
		m.log.Error("local copy", "zone", z.name, "err", err)
		return
	}
	for _, d := range []struct {
		doc  statestore.Doc
		data []byte
	}{{statestore.Premade, pb}, {statestore.KeyState, sb}} {
		old, rev, err := m.cfg.Local.Load(ctx, z.name, d.doc)
		if err == nil && string(old) == string(d.data) {
			continue
		}
		if _, err := m.cfg.Local.Save(ctx, z.name, d.doc, d.data, rev); err != nil {
			m.log.Error("local copy", "zone", z.name, "doc", d.doc, "err", err)
			return
		}
	}
}

// loadState returns the zone's state and its revision, or (nil, 0, nil) when it has none.
func (m *Manager) loadState(ctx context.Context, zone string) (*zoneState, statestore.Revision, error) {
	b, rev, err := m.load(ctx, zone, statestore.KeyState)
	if errors.Is(err, statestore.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("keymgr: read state: %w", err)
	}
	s, err := decodeState(zone, b)
	if err != nil {
		return nil, 0, err
	}
	return s, rev, nil
}

// saveState writes s as the zone's state, atomically and only over the revision the zone
// last read or wrote: a state another writer changed since is not overwritten
// (statestore.ErrConflict). Call with z.mu held.
func (m *Manager) saveState(ctx context.Context, z *zone, s *zoneState) error {
	b, err := encodeState(s)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, persistTimeout)
	defer cancel()
	rev, err := m.cfg.State.Save(ctx, z.name, statestore.KeyState, b, z.stateRev)
	if err != nil {
		return fmt.Errorf("keymgr: save state: %w", err)
	}
	z.stateRev = rev
	return nil
}

func (s *zoneState) kskByID(id string) *kskRec {
	for _, k := range s.KSKs {
		if k.ID == id {
			return k
		}
	}
	return nil
}
