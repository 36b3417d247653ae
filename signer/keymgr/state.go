package keymgr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// stateVersion is the version of the zone state file format; load refuses other versions
// rather than guess at their meaning.
const stateVersion = 1

// File modes: nothing under the state directory is readable by anyone but the owner.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// zoneState is what persists of one zone: the signing switch and its keys. Statuses that
// depend on the keystore answering (ACTION_NEEDED) are persisted too, so that the age of a
// problem survives a restart; they are re-derived by the loop.
type zoneState struct {
	Version int    `json:"version"`
	Zone    string `json:"zone"`
	// Signing is Route 53's ServeSignature switch: true once EnableHostedZoneDNSSEC succeeded.
	Signing bool `json:"signing"`
	// DeleteSentinel publishes the CDS/CDNSKEY delete sentinels (RFC 8078 §4) while the zone
	// is still signed, so the parent can remove its DS before the zone goes unsigned.
	DeleteSentinel bool      `json:"delete_sentinel,omitempty"`
	KSKs           []*kskRec `json:"ksks"`
	ZSKs           []*keyRec `json:"zsks"`
	Modified       time.Time `json:"modified"`
}

// keyRec is one key's keystore reference and its rollover timeline (RFC 7583 §3.1). A zero
// timestamp means "not yet".
type keyRec struct {
	ID        string    `json:"id"`      // keystore key ID
	Store     string    `json:"store"`   // which store holds it: "tpm" or "soft"
	Backend   string    `json:"backend"` // keystore Meta.Backend, for display
	Algorithm uint8     `json:"algorithm"`
	Created   time.Time `json:"created"`
	Publish   time.Time `json:"publish,omitzero"`
	Active    time.Time `json:"active,omitzero"`
	Retire    time.Time `json:"retire,omitzero"`
	Remove    time.Time `json:"remove,omitzero"`
	DSSeen    time.Time `json:"ds_seen,omitzero"`
	DSGone    time.Time `json:"ds_gone,omitzero"`
	// Modified is Route 53's LastModifiedDate.
	Modified time.Time `json:"modified"`
}

// kskRec is a key-signing key: a keyRec plus Route 53's name and status.
type kskRec struct {
	keyRec
	Name string `json:"name"`
	// Status is what the operator asked for: ACTIVE or INACTIVE.
	Status string `json:"status"`
	// Failure is the last signing failure of an ACTIVE key, "" when it signs; while set the
	// key reports ACTION_NEEDED. FailingSince is when it started.
	Failure      string    `json:"failure,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
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
	if s.Version != stateVersion {
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
func (st *stateStore) save(s *zoneState) (err error) {
	name, err := st.fileName(s.Zone)
	if err != nil {
		return err
	}
	s.Version = stateVersion
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("keymgr: encode state: %w", err)
	}
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
	if _, err = f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("keymgr: write state: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("keymgr: sync state: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("keymgr: close state: %w", err)
	}
	if err = os.Rename(tmp, filepath.Join(st.dir, name)); err != nil {
		return fmt.Errorf("keymgr: rename state: %w", err)
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
