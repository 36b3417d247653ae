// Package keyutil holds what the keystore backends share: key IDs, zone name
// normalisation, metadata validation and ordering, software key generation
// behind a signer that hides the private key, the Guard (lock and closed flag)
// that every Store call of a backend passes, and Shared, one decryption for
// concurrent first uses of a key.
//
// It imports keystore and golang.org/x/sync's singleflight.
package keyutil
