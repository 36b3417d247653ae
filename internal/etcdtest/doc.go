// Package etcdtest runs real etcd members (the etcd-server binary, /usr/bin/etcd or $ETCD)
// on loopback for tests: a cluster of one or more members, each stopped and started again
// at will, with its data in the test's temporary directory.
//
// It imports only the standard library and testing.
package etcdtest
