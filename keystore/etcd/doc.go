// Package etcd is the keystore of a Signet cluster's shared keys (the ZSKs): every instance
// must sign with the same zone-signing keys, so they live in the cluster's etcd, encrypted.
//
// Each key is three etcd keys, written in one transaction: <prefix>keys/<id>.json, its
// metadata (nothing secret), <prefix>keys/<id>.key.age, its PKCS#8 form encrypted with age
// to the cluster's X25519 recipients, and <prefix>keys/<id>.recipients, the recipients it is
// encrypted to (public), so that the leader finds, without decrypting anything, the keys to
// encrypt again when the members change (Reencrypt). ImportOps brings in a single server's
// ZSKs (keystore.Exporter) when it becomes a cluster's first member. etcd, its backups and anyone who can read them see
// only ciphertext; an instance decrypts with its identity, once per key, and keeps the
// signer in memory. With a cache directory, the ciphertext of every key it uses is also
// kept on local disk (0600), so that a restart while etcd is unreachable still signs. KSKs
// do not belong here: a KSK stays in the leader's own keystore (TPM
// or file) and the others serve its pre-made signatures.
//
// Once Guard is set, Create and Delete are transactions that also compare the leader's
// election key, so an instance that lost the key leadership cannot delete a key the new
// leader uses.
//
// etcd imports keystore, its internal helpers, age and the etcd v3 client.
package etcd
