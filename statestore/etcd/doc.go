// Package etcd is the statestore.Store of a Signet cluster: every instance reads and watches
// the zones' documents in one etcd cluster, and only the key leader writes them.
//
// A document is one etcd key, <prefix>zones/<zone>/<doc>; its revision is the key's
// ModRevision, so the revision an instance serves can be compared with the cluster's. Every
// write is one transaction that compares the document's revision (compare-and-swap) and,
// once Guard is set, the leader's election key: its CreateRevision must still be the one
// this instance won the election with. A leader whose lease ran out (paused, partitioned,
// killed and replaced) therefore fails to write (ErrNotLeader) even if it does not know it
// lost, and can never overwrite what the new leader wrote.
//
// etcd imports statestore and the etcd v3 client.
package etcd
