// Package keymgr is Signet's key manager: it holds each zone's DNSSEC state (signing status,
// its key-signing keys and zone-signing keys with their timelines) the way Route 53 models it,
// sits between the keystore (private keys) and the online signer (key rings), and runs the key
// lifecycle in the background: pre-made KSK signatures over the DNSKEY RRset, KSK status
// (ACTIVE, INACTIVE, ACTION_NEEDED, INTERNAL_FAILURE), ZSK rotation and automatic KSK
// rollover as planned by signer/rollover.
//
// The query path reads a zone's current ring lock-free (Signing); every change builds a new
// ring of new signer.Key values and swaps it in atomically, so the signer's cache, which keys
// on the key, never serves a signature by a removed key.
//
// State is one JSON file per zone under <StateDir>/zones, written atomically (temporary file,
// fsync, rename, fsync of the directory), so a crash leaves either the old or the new state.
// The pre-made KSK signatures (public RRSIGs) are written the same way to <zone>.premade, so
// that a restart while the KSK's TPM is unreachable still serves a validating zone.
// Its operations (GetDNSSEC, CreateKSK, Enable, ...) are Route 53's DNSSEC calls, and their
// refusals are *Error values carrying Route 53's error codes; the admin package serves them
// over HTTP. No private key material ever leaves the keystore.
//
// keymgr imports signer, signer/rollover and keystore; never zones, server or a keystore
// backend.
package keymgr
