// Package keymgr is Signet's key lifecycle engine: it holds each zone's DNSSEC state
// (signing status, its key-signing keys and zone-signing keys with their timelines) the way
// Route 53 models it, sits between the keystore (private keys) and the online signer (key
// rings), and runs the key lifecycle in the background: pre-made KSK signatures over the
// DNSKEY RRset, KSK status (ACTIVE, INACTIVE, ACTION_NEEDED, INTERNAL_FAILURE), ZSK rotation
// and automatic KSK rollover as planned by rollover.
//
// The query path reads a zone's current ring lock-free (Signing); every change builds a new
// ring of new signer.Key values and swaps it in atomically, so the signer's cache, which keys
// on the key, never serves a signature by a removed key.
//
// keymgr is given what it does not own. Config.State (a statestore.Store) persists each
// zone's key state and its pre-made KSK signatures, as JSON documents keymgr encodes; a save
// replaces only the revision keymgr last read or wrote, so a state changed elsewhere is
// never overwritten, and the ring is swapped in only once its state is saved. The pre-made
// signatures (public RRSIGs) outlive a restart while the KSK's TPM is unreachable, so such a
// restart still serves a validating zone. Config.Parent (a ParentDS; DNSParent by default)
// asks the parent's name servers for the zone's DS RRset. Health reports what the metrics
// export. Its operations (GetDNSSEC, CreateKSK, Enable, ...) are Route 53's DNSSEC calls, and
// their refusals are *Error values carrying Route 53's error codes; the admin package serves
// them over HTTP. No private key material ever leaves the keystore, and a start opens only
// the keys it signs with (none when it reuses the saved pre-made signatures; every one with
// ZonePolicy.OpenKeys): rings are built from the public keys the state records, each key
// opening at its first signature (OnKeyFailure tells the host of a ZSK that cannot), and the
// loop's first step proves the KSKs a start did not ask.
//
// In a cluster, one Manager leads and the others follow (Sync serves the leader's rings). A
// leader given a SyncWaiter (WaitFor) holds a zone's next step after each change of its ring
// until every live instance serves it, and moves the rest of the rollover's planned instants
// by that lag, so the RFC 7583 intervals count from the last instance's swap-in. Hold makes
// an instance withhold a zone whose ring is not the cluster's; the server asks Held.
//
// keymgr imports signer, rollover, keystore and statestore; never zones, server, a keystore
// backend or a state store backend.
package keymgr
