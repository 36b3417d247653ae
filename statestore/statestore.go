package statestore

import (
	"context"
	"errors"
)

// Doc names one of the documents a zone's state is kept in.
type Doc string

const (
	// KeyState is the zone's key state: signing switch, keys and their timelines.
	KeyState Doc = "state"
	// Premade is the zone's pre-made KSK signatures, public data that lets an instance
	// serve the zone while the KSK cannot sign.
	Premade Doc = "premade"
)

// Docs lists every document kind, for backends that validate the kind they are given.
var Docs = []Doc{KeyState, Premade}

// Valid reports whether d is one of Docs.
func (d Doc) Valid() bool { return d == KeyState || d == Premade }

// Revision identifies one stored version of a document. Revisions are only compared for
// equality; 0 means "the document does not exist".
type Revision uint64

var (
	// ErrNotFound is returned (wrapped) by Load for a document that does not exist.
	ErrNotFound = errors.New("statestore: no such document")
	// ErrConflict is returned (wrapped) by Save and Delete when the document's revision is
	// no longer the one the caller read: another writer changed it, and nothing was written.
	ErrConflict = errors.New("statestore: document changed since it was read")
)

// Change is one change of a document: its new revision, 0 when deleted.
type Change struct {
	Zone string
	Doc  Doc
	Rev  Revision
}

// Store keeps each zone's documents. Zone names are canonical: lowercase and fully
// qualified ("example.test.", "." for the root). Implementations are safe for concurrent
// use, and a cancelled context makes a call fail without effect.
type Store interface {
	// Load returns the document's contents and revision, or ErrNotFound (wrapped).
	Load(ctx context.Context, zone string, doc Doc) ([]byte, Revision, error)
	// Save replaces the document with data if its revision is still prev (0: it must not
	// exist yet) and returns the new revision; otherwise it writes nothing and returns
	// ErrConflict (wrapped). The write is atomic: a crash or a failure leaves the old
	// contents or the new, never a mix.
	Save(ctx context.Context, zone string, doc Doc, data []byte, prev Revision) (Revision, error)
	// Delete removes the document if its revision is still prev, else returns ErrConflict
	// (wrapped). Deleting a document that does not exist with prev 0 succeeds.
	Delete(ctx context.Context, zone string, doc Doc, prev Revision) error
	// Watch reports, in order, every change made to any zone's documents after it was
	// called, by this Store or another writer, until ctx ends and the channel is closed.
	// A reader tells its own writes by the revision it already holds.
	Watch(ctx context.Context) (<-chan Change, error)
}
