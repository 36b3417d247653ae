// Package cluster makes several Signet instances serve the same signed zones as one, on etcd:
// every instance serves DNS and signs online with the same key ring, one instance at a time
// is the key leader, elected through etcd, and only the leader changes the key state.
//
// A Node campaigns for the leadership (the etcd client's concurrency election on a lease).
// Leading, it guards the shared state store and keystore with its election key (a stale
// leader's transactions fail), makes its key manager lead and runs its loop until the
// session ends. Following, it watches the shared state and has its key manager swap in each
// new ring (keymgr.Manager.Sync), and re-reads every zone now and then in case a watch
// missed something. Each instance publishes, under a key bound to its own lease, what it
// serves (the state revision of each zone, the zone serials), which Status reads.
//
// The leader counts each rollover interval from when every live instance serves the ring
// change before it (Synced, keymgr.SyncWaiter), waiting at most SyncTimeout. A follower
// that stays behind etcd's state for longer, or that is cut off from etcd and finds another
// DNSKEY RRset at a peer (asked over DNS), stops answering for the zone (keymgr's Hold:
// SERVFAIL with EDE 14) until it serves the cluster's ring again.
//
// The key manager keeps a copy of the ring it serves on local disk (keymgr.Config.Local), and
// the etcd keystore a copy of the encrypted keys it uses, so that a restart while etcd is
// unreachable still serves the last ring.
//
// Join makes a stopped single server the first member of a cluster: it imports each zone's
// key state, pre-made signatures and ZSKs into etcd once, one transaction per zone, so that
// the server leads with the keys it had.
//
// cluster imports keymgr, keystore, statestore and the etcd v3 client; cmd wires it.
package cluster
