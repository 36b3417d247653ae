// Package statestore owns where the key manager's per-zone state persists, behind one
// interface, Store: load a zone's document with its revision, save it atomically only if
// nobody changed it since it was read (compare-and-swap on the revision, so a stale writer
// fails instead of overwriting a newer state), and watch for changes made by other writers.
//
// A zone's state is two documents: its key state (signing switch, keys and their rollover
// timelines) and the pre-made KSK signatures over its DNSKEY, CDS and CDNSKEY RRsets. The
// store treats them as opaque bytes: their encoding belongs to the key manager, so that every
// backend stores the same thing.
//
// Backends live in subpackages: statestore/file (one file per document in a 0700
// directory, a single server's) and statestore/etcd (a cluster's, every write guarded by the
// key leader's election). storetest holds the contract test suite every backend runs.
//
// statestore imports only the standard library.
package statestore
