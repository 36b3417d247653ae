// Package keystore owns where DNSSEC private keys live and hands them out as
// crypto.Signer.
//
// A Store creates keys for a zone and a role (KSK or ZSK), lists their
// metadata, and returns a crypto.Signer for a key ID. The private key never
// leaves its backend through this API: signers wrap the key, so a caller cannot
// type-assert its way to key material, and no error or log line contains it. The one
// exception is Exporter, which a backend may implement so that a single server's ZSKs can
// move, in memory, into a cluster's shared store.
//
// Backends live in subpackages so that heavy dependencies are compiled in only
// where they are used:
//
//   - keystore/memory: keys in process memory; for tests and fakes.
//   - keystore/file: PKCS#8 keys encrypted with an age scrypt passphrase, one
//     file per key under a 0700 directory.
//   - keystore/tpm: ECDSA P-256 keys created inside a TPM 2.0 and wrapped by its
//     storage key; signing happens inside the TPM.
//   - keystore/etcd: a cluster's shared keys in etcd, PKCS#8 encrypted with age
//     to the members' X25519 recipients.
//
// The package knows nothing of DNS beyond the DNSSEC algorithm number (RFC 8624
// §3.1): building DNSKEY records from Signer.Public is the signer package's
// job. It imports no other Signet package. storetest holds the contract test
// suite that every backend runs.
package keystore
