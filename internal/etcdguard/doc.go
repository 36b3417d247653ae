// Package etcdguard commits etcd transactions that only the key leader may make: each one
// also compares the leader's election key, so a leader whose lease ran out (paused, cut off,
// killed and replaced) fails to write even if it does not know it lost. The state store
// and the keystore on etcd share it.
//
// It imports only the etcd v3 client.
package etcdguard
