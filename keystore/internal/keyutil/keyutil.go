package keyutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
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

// Collect reads the metadata of each id and returns, sorted, those of zone ("" = all). A read
// error stops it: a key never disappears from a listing silently.
func Collect(zone string, ids []string, read func(id string) (keystore.Meta, error)) ([]keystore.Meta, error) {
	out := []keystore.Meta{}
	for _, id := range ids {
		m, err := read(id)
		if err != nil {
			return nil, err
		}
		if zone == "" || m.Zone == zone {
			out = append(out, m)
		}
	}
	Sort(out)
	return out, nil
}
