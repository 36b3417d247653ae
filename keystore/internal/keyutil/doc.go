// Package keyutil holds what the keystore backends share: key IDs, zone name
// normalisation, metadata validation and ordering, and software key
// generation behind a signer that hides the private key.
//
// It imports only keystore.
package keyutil
