// Package tpm is the TPM 2.0 keystore backend: ECDSA P-256 keys
// (DNSSEC algorithm 13, RFC 6605) are generated inside the TPM and never
// leave it in usable form. Other algorithms are refused with
// keystore.ErrUnsupportedAlgorithm.
//
// # Keys
//
// Each key is an ordinary (non-restricted) signing key created under the
// TPM's storage primary key, which is derived from the owner hierarchy's seed
// with the TCG reference ECC template and so can be re-created identically at
// every start instead of being made persistent. The key's attributes are
// FixedTPM and FixedParent (it cannot be duplicated to another TPM),
// SensitiveDataOrigin (the TPM made it), UserWithAuth with a random 32-byte
// authorization value, NoDA and SignEncrypt. NoDA matters: with dictionary
// attack protection on, a few failed authorisations, or an unorderly
// shutdown, would lock the key for a long time (TPM 2.0 Part 1 §19.8), a
// denial of service for a server; the random authValue is what keeps
// other local users of the TPM from using the key instead.
//
// Under Options.Dir (0700) each key has two 0600 files, written atomically:
//
//	<id>.json   keystore.Meta plus the TPM's public and wrapped private blobs
//	            and the storage key's name; its presence defines the key
//	<id>.auth   the key's authorization value
//
// The private blob is encrypted by the storage key and is useless without
// this TPM; a backup of the directory is not a backup of the key.
//
// # Devices
//
// Options.Device selects the TPM: a character device ("/dev/tpmrm0", the
// kernel resource manager, the default and the right choice in production),
// "unix:/path/to/socket" for swtpm's unixio server, or "tcp:127.0.0.1:2321"
// for swtpm's TCP server (raw TPM commands, not the MS simulator protocol).
// Without a resource manager (swtpm, /dev/tpm0) the TPM keeps objects loaded
// after a client goes away, so the store flushes every transient object each
// time it connects; such a TPM must have no other client. swtpm serves one
// client at a time anyway.
//
// # Failures
//
// The store holds one connection, used under a lock because go-tpm transports
// are not safe for concurrent use. It connects lazily; Open does not need the
// TPM, and Signer.Public works without it. When the TPM cannot be reached,
// Sign fails within about Options.DialTimeout and the next call reconnects, so
// a caller can report the key as needing action and recover by itself when
// the TPM is back. Loaded key handles are dropped on reconnect and on
// handle-type errors, and the key is loaded again from its blobs; TPM_RC_RETRY,
// TPM_RC_YIELDED and TPM_RC_TESTING are retried a few times. Socket
// transports set a deadline on every command; a character device is trusted
// to answer.
//
// tpm imports keystore, its internal helpers and go-tpm; no other Signet package.
package tpm
