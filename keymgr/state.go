package keymgr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

// stateVersion is the version of the zone state file format. Version 1 (before keymgr used
// signer/rollover) is migrated on load; load refuses any other version rather than guess at
// its meaning.
const (
	stateVersion       = 2
	stateVersionLegacy = 1
)

// File modes: nothing under the state directory is readable by anyone but the owner.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// zoneState is what persists of one zone: the signing switch and its keys with their rollover
// timelines. Everything a key's state derives from is here (the state is computed from
// timestamps and now, never stored), so a restart after
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
// into the same JSON object; its field names are those of the version 1 records).
type keyRec struct {
	rollover.Key
	Store   string `json:"store"`   // which store holds it: "tpm" or "soft"
	Backend string `json:"backend"` // keystore Meta.Backend, for display
	// Modified is Route 53's LastModifiedDate.
	Modified time.Time `json:"modified"`
}

// kskRec is a key-signing key: a keyRec plus Route 53's name. Its Route 53 status (ACTIVE,
// INACTIVE, ACTION_NEEDED) derives from the timeline and Failure (kskStatus).
type kskRec struct {
	keyRec
	Name string `json:"name"`
	// LegacyStatus is version 1's stored status, read only to migrate.
	LegacyStatus string `json:"status,omitempty"`
	// Failure is the last signing failure of a published key, "" when it signs; while set the
	// key reports ACTION_NEEDED. FailingSince is when it started.
	Failure      string    `json:"failure,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
}

// migrate turns a version 1 state into version 2. Version 1 timelines meant "from the start"
// by a zero Publish or Active and kept a KSK's ACTIVE/INACTIVE as a stored status; version 2
// writes every instant (rollover.Key). Key tags are filled in by AddZone, which can open the
// keys.
func (s *zoneState) migrate() {
	for _, k := range s.ZSKs {
		k.Role = keystore.ZSK
		if k.Publish.IsZero() {
			k.Publish = k.Created
		}
		if k.Active.IsZero() {
			k.Active = k.Publish
		}
		if k.Ready.IsZero() {
			k.Ready = k.Active
		}
	}
	for _, k := range s.KSKs {
		k.Role = keystore.KSK
		if k.Publish.IsZero() {
			k.Publish, k.Ready, k.Active = k.Created, k.Created, k.Created
		}
		if k.LegacyStatus == StatusInactive && k.Remove.IsZero() {
			k.Retire, k.Remove = maxTime(k.Modified, k.Created), maxTime(k.Modified, k.Created)
		}
		k.LegacyStatus = ""
	}
	s.Version = stateVersion
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
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

// ids returns the keystore IDs the state names.
func (s *zoneState) ids() map[string]bool {
	out := map[string]bool{}
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

// stateStore reads and writes zone state files under dir (<StateDir>/zones).
type stateStore struct{ dir string }

func newStateStore(stateDir string) (*stateStore, error) {
	if stateDir == "" {
		return nil, errors.New("keymgr: StateDir is empty")
	}
	dir := filepath.Join(stateDir, "zones")
	for _, d := range []string{stateDir, dir} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, fmt.Errorf("keymgr: %w", err)
		}
		if err := os.Chmod(d, dirMode); err != nil {
			return nil, fmt.Errorf("keymgr: restrict %s: %w", d, err)
		}
	}
	return &stateStore{dir: dir}, nil
}

// fileName maps a zone to its state file: "example.com." -> "example.com.json", the root to
// "root.json". Zone names reaching here are canonical (lowercase, fully qualified); a name
// with a path separator or a leading dot could escape the directory, so it is refused.
func (st *stateStore) fileName(zone string) (string, error) {
	name := strings.TrimSuffix(zone, ".")
	if name == "" {
		name = "root"
	}
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("keymgr: zone name %q cannot name a state file", zone)
	}
	return name + ".json", nil
}

// load returns the zone's state, or (nil, nil) when it has none yet. Temporary files left by
// a crash during save are never read: only the final name is.
func (st *stateStore) load(zone string) (*zoneState, error) {
	name, err := st.fileName(zone)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(st.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keymgr: read state: %w", err)
	}
	var s zoneState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("keymgr: state %s: %w", name, err)
	}
	switch s.Version {
	case stateVersion:
	case stateVersionLegacy:
		s.migrate()
	default:
		return nil, fmt.Errorf("keymgr: state %s: version %d, want %d", name, s.Version, stateVersion)
	}
	if s.Zone != zone {
		return nil, fmt.Errorf("keymgr: state %s is for zone %q, not %q", name, s.Zone, zone)
	}
	return &s, nil
}

// save writes s atomically: a temporary file in the same directory, fsync, rename over the
// target, fsync of the directory so the rename is durable. A crash at any point leaves the
// previous state (and perhaps a stray temporary file, which load ignores and save's
// CreateTemp never collides with).
func (st *stateStore) save(s *zoneState) error {
	name, err := st.fileName(s.Zone)
	if err != nil {
		return err
	}
	s.Version = stateVersion
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("keymgr: encode state: %w", err)
	}
	return st.writeAtomic(name, append(b, '\n'))
}

// writeAtomic writes b to the file name in the state directory: a temporary file in the same
// directory, fsync, rename over the target, fsync of the directory so the rename is durable.
func (st *stateStore) writeAtomic(name string, b []byte) (err error) {
	f, err := os.CreateTemp(st.dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("keymgr: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(fileMode); err != nil {
		return fmt.Errorf("keymgr: %w", err)
	}
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("keymgr: write %s: %w", name, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("keymgr: sync %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("keymgr: close %s: %w", name, err)
	}
	if err = os.Rename(tmp, filepath.Join(st.dir, name)); err != nil {
		return fmt.Errorf("keymgr: rename %s: %w", name, err)
	}
	d, err := os.Open(st.dir)
	if err != nil {
		return fmt.Errorf("keymgr: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("keymgr: sync state directory: %w", err)
	}
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
