// Package file is the software keystore backend: each private key is kept as
// PKCS #8 DER encrypted to a passphrase with age's scrypt recipient
// (https://age-encryption.org/v1), one file per key.
//
// Layout, all under Options.Dir (mode 0700; a looser existing directory is
// tightened to 0700 at Open):
//
//	<id>.key.age   the encrypted private key (0600)
//	<id>.json      the key's keystore.Meta (0600); its presence defines the key
//
// Every file is written atomically (temporary file in the same directory,
// fsync, rename, fsync of the directory), the key before its metadata, so a
// crash never leaves a listed key without its private half. Delete removes the
// metadata first; a crash in between can leave an orphaned, still encrypted
// .key.age file, which List ignores and an operator may remove.
//
// Decrypting costs one scrypt run (about a second and 256 MiB at the default
// work factor 18), so decrypted keys are cached in memory after first use and
// keys created by this process are cached from the start. Use a smaller
// WorkFactor only in tests.
//
// # Recovering a key by hand
//
// The files are plain age files, so an operator can recover a key with the
// standard tools, without Signet:
//
//	age -d state/keys/0123456789abcdef.key.age | openssl pkey -inform DER
//
// age prompts for the passphrase on the terminal and openssl prints the key in
// PEM form.
//
// file imports keystore, its internal helpers and age; no other Signet package.
package file
