// Package memory is a keystore.Store that keeps keys in process memory. It is
// meant for tests and fakes: keys are lost when the process exits. It
// supports algorithms 8, 13 and 15.
//
// It imports keystore and keystore/internal/keyutil, and no other Signet package.
package memory
