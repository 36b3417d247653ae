// Package storetest is the contract test suite for keystore.Store. Every
// backend runs it from its own tests:
//
//	storetest.Run(t, func(t *testing.T) keystore.Store { ... }, []uint8{13, 15, 8})
//
// It checks what the keystore.Store doc comment promises: metadata, listing
// order, ErrNotFound and ErrUnsupportedAlgorithm, cancellation, Close,
// signatures that verify (including DNSSEC RRSIGs made and checked by
// miekg/dns), concurrent use, the signature counter, and, when the backend
// offers them, persistence across a reopen and file permissions.
//
// It imports keystore and never a backend: each backend's test hands it a constructor.
package storetest
