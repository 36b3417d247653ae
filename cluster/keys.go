package cluster

import "context"

// followKeys syncs every zone after each change of the shared keys, while following: a
// member added after the keys were made serves once the leader has encrypted them to it,
// without waiting for the next state change or resync.
func (n *Node) followKeys(ctx context.Context) {
	for range n.cfg.KeyChanges(ctx) {
		n.log.Debug("shared keys changed")
		n.syncAll(ctx)
	}
}
