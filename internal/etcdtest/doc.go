// Package etcdtest runs real etcd members (the etcd-server binary, /usr/bin/etcd or $ETCD)
// on loopback for tests: a cluster of one or more members, each stopped and started again
// at will, with its data in the test's temporary directory, and clients of it.
//
// It imports the etcd v3 client (and zap, to silence it) besides the standard library.
package etcdtest
