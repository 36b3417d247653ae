// Package keyutil holds what the keystore backends share: key IDs, zone name
// normalisation, metadata validation and ordering, and software key
// generation behind a signer that hides the private key, and the Guard (lock and closed
// flag) every Store call of a backend passes.
//
// It imports only keystore.
package keyutil
