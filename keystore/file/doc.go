// Package file is the software keystore backend: each private key is kept as
// PKCS #8 DER encrypted with age (https://age-encryption.org/v1), one file per
// key, to the directory's key-encryption key: an age X25519 identity kept in
// kek.age, encrypted to the passphrase with age's scrypt recipient. A process
// runs scrypt once, to open kek.age, however many keys it creates or loads.
//
// Layout, all under Options.Dir (mode 0700; a looser existing directory is
// tightened to 0700 at Open):
//
//	kek.age        the key-encryption key, encrypted to the passphrase (0600)
//	<id>.key.age   the encrypted private key (0600)
//	<id>.json      the key's keystore.Meta (0600); its presence defines the key
//
// A new key's file is written under its final name, its metadata under a
// temporary name; a barrier (a syncfs that concurrent Creates share) makes
// both durable; the metadata is renamed into place; a second barrier makes
// that durable before Create returns. So a crash, even of the machine, never
// leaves a listed key without its whole private half. Delete removes the
// metadata first. A crash can leave an orphaned .key.age file (encrypted, or
// empty if it was being written), which List ignores and an operator may
// remove.
//
// Opening kek.age costs one scrypt run (about a second and 256 MiB at the
// default work factor 18); it happens at the first Create or Signer, and the
// key-encryption key and the decrypted keys then stay in memory. Key files
// sealed to the passphrase directly (before kek.age existed) still open, at
// one scrypt run each. Use a smaller WorkFactor only in tests.
//
// # Recovering a key by hand
//
// The files are plain age files, so an operator can recover a key with the
// standard tools, without Signet:
//
//	age -d -o kek.txt state/keys/kek.age
//	age -d -i kek.txt state/keys/0123456789abcdef.key.age | openssl pkey -inform DER
//	shred -u kek.txt
//
// age prompts for the passphrase on the terminal and openssl prints the key in
// PEM form.
//
// file imports keystore, its internal helpers, age and the module's root internal
// packages (secretfile, for the owner-only passphrase file); no other Signet package.
package file
