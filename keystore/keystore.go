package keystore

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"time"
)

// DNSSEC algorithm numbers (RFC 8624 §3.1) that Signet's backends support.
// The values are those of the IANA "DNS Security Algorithm Numbers" registry,
// so they can be compared with miekg/dns's constants directly.
const (
	// RSASHA256 is algorithm 8 (RFC 5702); keys are 2048-bit RSA.
	RSASHA256 uint8 = 8
	// ECDSAP256SHA256 is algorithm 13 (RFC 6605); the default for KSK and ZSK.
	ECDSAP256SHA256 uint8 = 13
	// ED25519 is algorithm 15 (RFC 8080).
	ED25519 uint8 = 15
)

// Sentinel errors that callers act on. Backends wrap them with context (the
// key ID, the file), so test them with errors.Is.
var (
	// ErrNotFound means no key with the given ID exists in the store.
	ErrNotFound = errors.New("keystore: key not found")
	// ErrUnsupportedAlgorithm means the backend cannot create or use keys of
	// the requested DNSSEC algorithm.
	ErrUnsupportedAlgorithm = errors.New("keystore: unsupported algorithm")
	// ErrWrongPassphrase means a key could not be decrypted with the store's
	// passphrase. The error never contains the passphrase.
	ErrWrongPassphrase = errors.New("keystore: wrong passphrase")
	// ErrClosed is returned by every method of a Store after Close.
	ErrClosed = errors.New("keystore: store closed")
)

// Role says what a key signs: a KSK signs the DNSKEY, CDS and CDNSKEY RRsets
// (DNSKEY flags 257), a ZSK everything else (flags 256), RFC 6781 §3.1.
type Role uint8

// The two key roles. The zero Role is invalid so that a forgotten field is
// caught rather than silently meaning KSK.
const (
	KSK Role = iota + 1
	ZSK
)

// String returns "KSK" or "ZSK", or "Role(n)" for an invalid value.
func (r Role) String() string {
	switch r {
	case KSK:
		return "KSK"
	case ZSK:
		return "ZSK"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Valid reports whether r is KSK or ZSK.
func (r Role) Valid() bool { return r == KSK || r == ZSK }

// MarshalText implements encoding.TextMarshaler, so metadata files say "KSK"
// rather than a number that would silently change meaning if the constants
// were reordered.
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("keystore: invalid role %d", uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler; it accepts "KSK" and
// "ZSK" exactly.
func (r *Role) UnmarshalText(b []byte) error {
	switch string(b) {
	case "KSK":
		*r = KSK
	case "ZSK":
		*r = ZSK
	default:
		return fmt.Errorf("keystore: invalid role %q", b)
	}
	return nil
}

// Meta describes a stored key. It contains nothing secret.
type Meta struct {
	// ID is unique within the store, random, and safe to use as a file name
	// (16 lowercase hex digits).
	ID string `json:"id"`
	// Zone is the zone apex as a lowercase fully qualified name ("example.").
	Zone string `json:"zone"`
	// Role is KSK or ZSK.
	Role Role `json:"role"`
	// Algorithm is the DNSSEC algorithm number: 13, 15 or 8.
	Algorithm uint8 `json:"algorithm"`
	// Backend names the backend holding the key: "memory", "software" or "tpm".
	Backend string `json:"backend"`
	// Created is when the key was generated, in UTC.
	Created time.Time `json:"created"`
}

// Store holds private keys and signs with them.
//
// Contract, checked by storetest.Run for every backend:
//   - All methods are safe for concurrent use, and so is every crypto.Signer
//     a Store returns.
//   - Methods honour ctx: they return ctx.Err() (possibly wrapped) if ctx is
//     done before the work starts or while waiting for a shared resource.
//   - Get, Signer and Delete return an error wrapping ErrNotFound for an ID
//     that does not exist (including a malformed one).
//   - Create returns an error wrapping ErrUnsupportedAlgorithm for an
//     algorithm the backend cannot hold.
//   - No method returns, logs or embeds in an error any private key material
//     or passphrase. Signers do not expose the private key: type-asserting
//     them to *ecdsa.PrivateKey and the like fails.
//   - After Close, every method returns an error wrapping ErrClosed.
type Store interface {
	// Create generates a new key for zone (made lowercase and fully
	// qualified) and role, with DNSSEC algorithm alg, and stores it.
	Create(ctx context.Context, zone string, role Role, alg uint8) (Meta, error)
	// List returns the metadata of zone's keys, or of all keys when zone is
	// "". The result is sorted by Created, then ID, and belongs to the caller.
	// An entry whose metadata cannot be read is left out, and List returns the
	// others together with an *UnreadableError naming it, when it names zone or
	// zone is "": one damaged entry does not hide every zone's keys.
	List(ctx context.Context, zone string) ([]Meta, error)
	// Get returns the metadata of one key.
	Get(ctx context.Context, id string) (Meta, error)
	// Signer returns a signer for the key. Public gives the public key
	// (*ecdsa.PublicKey, ed25519.PublicKey or *rsa.PublicKey). Sign returns
	// what crypto/ecdsa, crypto/ed25519 and crypto/rsa return (ASN.1 DER for
	// ECDSA, PKCS #1 v1.5 for RSA), so miekg/dns's RRSIG.Sign accepts it.
	// A Signer obtained before Delete may keep working afterwards.
	Signer(ctx context.Context, id string) (crypto.Signer, error)
	// Delete removes the key from storage for good.
	Delete(ctx context.Context, id string) error
	// Close releases resources (open devices, cached keys). It is safe to
	// call more than once.
	Close() error
}

// Unreadable is a store's entry whose metadata cannot be read (not whole, not JSON, not
// valid, not readable, or under a name that is no key ID's). Nothing in it is secret: the
// metadata holds no key material, and Err names the entry, never its contents.
type Unreadable struct {
	// ID is the key ID the entry's name gives, "" when the name is not a key ID.
	ID string
	// Zone is the zone the entry names, when that much of it could be read; else "".
	Zone string
	// Where is the entry: its file, or its etcd key.
	Where string
	// Err says what is wrong with it.
	Err error
}

// UnreadableError is List's error when entries could not be read: List returns the
// metadata of every other key with it. A caller may go on with those, and must treat the
// unreadable keys as present but unusable: never as absent (a key left out of a listing is
// no orphan to delete).
type UnreadableError struct {
	Entries []Unreadable
}

func (e *UnreadableError) Error() string {
	if len(e.Entries) == 1 {
		return fmt.Sprintf("keystore: 1 entry cannot be read and is left out: %v", e.Entries[0].Err)
	}
	return fmt.Sprintf("keystore: %d entries cannot be read and are left out, the first: %v", len(e.Entries), e.Entries[0].Err)
}

// SignatureCounter is implemented by stores that count the signatures their
// signers made, for metrics. The count never decreases.
type SignatureCounter interface {
	Signatures() uint64
}

// Exporter is implemented by a store whose software keys may be copied into another store:
// only making a single server the first member of a cluster does, to move its ZSKs into the
// cluster's shared store, where they are encrypted again to the members' keys.
//
// Export hands use the key's metadata and its private key in PKCS #8 DER form, and wipes
// the bytes when use returns: use must neither keep them nor write them anywhere in clear.
// The store writes nothing. An unknown ID gives ErrNotFound (wrapped), a key the backend
// cannot export (a TPM's) an error.
type Exporter interface {
	Export(ctx context.Context, id string, use func(m Meta, pkcs8 []byte) error) error
}
