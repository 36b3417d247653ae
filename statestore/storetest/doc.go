// Package storetest is the contract test suite for statestore.Store. Every backend runs it
// from its own tests:
//
//	storetest.Run(t, func(t *testing.T) statestore.Store { ... }, storetest.Reopen(...))
//
// It checks what the statestore.Store doc comment promises: ErrNotFound, compare-and-swap
// on the revision (a stale writer fails and changes nothing, of concurrent writers with one
// revision exactly one wins), documents and zones kept apart, deletion, cancellation, Watch,
// and, when the backend declares them, persistence across a reopen and changes made through
// another handle (another instance) seen by Load and Watch.
//
// It imports statestore and never a backend: each backend's test hands it a constructor.
package storetest
