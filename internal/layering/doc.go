// Package layering has no code: its test keeps the shape of the module true as it grows.
// Imports point one way (cmd -> server -> {zones, signer}; keymgr -> {signer, rollover,
// keystore, statestore}); zones, keystore, statestore and the other leaf packages import no
// Signet package but the root internal/ helpers, and the signer never imports zones; only
// cmd and test support import a keystore or state store backend; every package has a doc.go
// that says its job and what it imports; and README's Layout names every top-level directory
// and every internal/ helper, and nothing that is gone.
//
// It imports nothing; the test reads the module through `go list`.
package layering
