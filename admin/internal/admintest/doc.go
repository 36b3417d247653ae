// Package admintest builds what the admin API's tests serve: a real key manager over an
// in-memory keystore and a state directory of the test, with a fixed clock.
//
// It imports keymgr, keystore/memory and statestore/file, and only the admin package's tests
// import it.
package admintest
