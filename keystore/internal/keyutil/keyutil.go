package keyutil

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/signetdns/signet/keystore"
)

// idBytes is the number of random bytes in a key ID. 64 bits make a collision
// among a store's keys negligible, and IDs stay short enough to type.
const idBytes = 8

// NewID returns a fresh random key ID: 16 lowercase hex digits.
func NewID() string {
	var b [idBytes]byte
	// crypto/rand.Read never returns an error (Go 1.24+); it crashes the
	// program rather than return predictable bytes.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidID reports whether id has the form NewID produces. Backends check it
// before building a file name from id, so "../x" can never escape the store's
// directory.
func ValidID(id string) bool {
	if len(id) != 2*idBytes {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// CheckID returns an error wrapping keystore.ErrNotFound when id is malformed:
// no key can have such an ID.
func CheckID(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("key %q: %w", id, keystore.ErrNotFound)
	}
	return nil
}

// CanonicalZone lowercases zone and makes it fully qualified. It rejects the
// empty name and names with empty labels; it does not otherwise parse DNS
// names, which is the zones package's job.
func CanonicalZone(zone string) (string, error) {
	if zone == "" {
		return "", errors.New("keystore: empty zone name")
	}
	z := strings.ToLower(zone)
	if z == "." {
		return z, nil
	}
	if !strings.HasSuffix(z, ".") {
		z += "."
	}
	if strings.HasPrefix(z, ".") || strings.Contains(z, "..") {
		return "", fmt.Errorf("keystore: invalid zone name %q", zone)
	}
	return z, nil
}

// SupportedSoftware reports whether the software backends (memory, file)
// can generate keys of DNSSEC algorithm alg.
func SupportedSoftware(alg uint8) bool {
	switch alg {
	case keystore.ECDSAP256SHA256, keystore.ED25519, keystore.RSASHA256:
		return true
	}
	return false
}

// Validate checks metadata read back from storage, so that a hand-edited or
// corrupted file is reported rather than half-used.
func Validate(m keystore.Meta) error {
	if !ValidID(m.ID) {
		return fmt.Errorf("invalid key id %q", m.ID)
	}
	if z, err := CanonicalZone(m.Zone); err != nil || z != m.Zone {
		return fmt.Errorf("invalid zone %q", m.Zone)
	}
	if !m.Role.Valid() {
		return fmt.Errorf("invalid role %d", m.Role)
	}
	if m.Algorithm == 0 {
		return errors.New("missing algorithm")
	}
	if m.Backend == "" {
		return errors.New("missing backend")
	}
	if m.Created.IsZero() {
		return errors.New("missing creation time")
	}
	return nil
}

// NewMeta returns the metadata of a key about to be created. zone must
// already be canonical.
func NewMeta(zone string, role keystore.Role, alg uint8, backend string, now time.Time) keystore.Meta {
	return keystore.Meta{
		ID:        NewID(),
		Zone:      zone,
		Role:      role,
		Algorithm: alg,
		Backend:   backend,
		// Drop the monotonic reading and the location so the value compares
		// equal after a JSON round trip.
		Created: now.UTC().Round(0),
	}
}

// Sort orders metas by Created, then ID, as Store.List promises.
func Sort(metas []keystore.Meta) {
	slices.SortFunc(metas, func(a, b keystore.Meta) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// CheckCreate validates Create's arguments and returns the canonical zone.
func CheckCreate(zone string, role keystore.Role, alg uint8, supported func(uint8) bool) (string, error) {
	z, err := CanonicalZone(zone)
	if err != nil {
		return "", err
	}
	if !role.Valid() {
		return "", fmt.Errorf("keystore: invalid role %d", role)
	}
	if !supported(alg) {
		return "", fmt.Errorf("algorithm %d: %w", alg, keystore.ErrUnsupportedAlgorithm)
	}
	return z, nil
}

// ZoneFilter canonicalises the zone argument of Store.List: "" (every zone) stays "".
func ZoneFilter(zone string) (string, error) {
	if zone == "" {
		return "", nil
	}
	return CanonicalZone(zone)
}

// Collect reads the metadata of each id and returns, sorted, those of zone ("" = all). An
// entry read gives an *EntryError for is left out, and reported in an
// *keystore.UnreadableError returned with the others when it names zone or zone is "" (bad
// lists entries whose very name is wrong, to report likewise in a listing of every zone); a
// key deleted since its ID was listed is left out; any other error stops it.
func Collect(zone string, ids []string, bad []keystore.Unreadable, read func(id string) (keystore.Meta, error)) ([]keystore.Meta, error) {
	out := []keystore.Meta{}
	var skipped []keystore.Unreadable
	if zone == "" {
		skipped = append(skipped, bad...)
	}
	for _, id := range ids {
		m, err := read(id)
		var ee *EntryError
		switch {
		case err == nil:
			if zone == "" || m.Zone == zone {
				out = append(out, m)
			}
		case errors.Is(err, keystore.ErrNotFound):
		case errors.As(err, &ee):
			if zone == "" || ee.Zone == zone {
				skipped = append(skipped, keystore.Unreadable{ID: id, Zone: ee.Zone, Where: ee.Where, Err: ee.Err})
			}
		default:
			return nil, err
		}
	}
	Sort(out)
	if len(skipped) > 0 {
		return out, &keystore.UnreadableError{Entries: skipped}
	}
	return out, nil
}

// EntryError is a metadata entry that cannot be read (read, decoded or validated): the
// backends' metadata readers return it, so that a listing leaves that entry out, and says
// which zone it names when that much of it could be read.
type EntryError struct {
	Where string // the file or etcd key
	Zone  string // the zone it names, "" when unknown
	Err   error  // names Where
}

func (e *EntryError) Error() string { return e.Err.Error() }
func (e *EntryError) Unwrap() error { return e.Err }

// BadEntry returns the *EntryError of the entry at where, with contents data (nil when it
// could not be read), that err says is unreadable. The zone is taken from data when a
// "zone" member holds a canonical zone name: the rest may be damaged, but the zone is
// likely the entry's, and a listing of that zone then reports it.
func BadEntry(where string, data []byte, err error) error {
	e := &EntryError{Where: where, Err: err}
	var v struct {
		Zone string `json:"zone"`
	}
	if json.Unmarshal(data, &v) != nil {
		// Not JSON, most often cut short: the member may still be whole.
		if m := zoneMember.FindSubmatch(data); m != nil {
			v.Zone = string(m[1])
		}
	}
	if v.Zone != "" {
		if z, zerr := CanonicalZone(v.Zone); zerr == nil && z == v.Zone {
			e.Zone = z
		}
	}
	return e
}

// zoneMember finds a metadata entry's "zone" member in text that is not whole JSON.
var zoneMember = regexp.MustCompile(`"zone"\s*:\s*"([^"\\]*)"`)
