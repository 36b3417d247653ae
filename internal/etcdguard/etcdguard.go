package etcdguard

import (
	"context"
	"errors"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// ErrNotLeader is returned by Commit when the guard's election key is no longer the one
// this instance won with: nothing was written.
var ErrNotLeader = errors.New("not the key leader (the election key changed)")

// Leader is a won election: the key this instance created and its create revision
// (concurrency.Election's Key and Rev).
type Leader interface {
	Key() string
	Rev() int64
}

// Guard holds the election a writer is guarded by; the zero Guard guards nothing.
type Guard struct {
	mu     sync.Mutex
	leader Leader
}

// Set makes every later Commit conditional on l still being the election's winner; nil
// removes the condition.
func (g *Guard) Set(l Leader) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.leader = l
}

// Commit runs ops in one transaction if cmps and the guard hold. It returns whether it
// succeeded, the transaction's revision, and ErrNotLeader when the guard failed.
func (g *Guard) Commit(ctx context.Context, cli *clientv3.Client, cmps []clientv3.Cmp, ops ...clientv3.Op) (bool, int64, error) {
	g.mu.Lock()
	l := g.leader
	g.mu.Unlock()
	var els []clientv3.Op
	if l != nil {
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(l.Key()), "=", l.Rev()))
		els = append(els, clientv3.OpGet(l.Key()))
	}
	resp, err := cli.Txn(ctx).If(cmps...).Then(ops...).Else(els...).Commit()
	if err != nil {
		return false, 0, err
	}
	if !resp.Succeeded && l != nil {
		kvs := resp.Responses[0].GetResponseRange().GetKvs()
		if len(kvs) == 0 || kvs[0].CreateRevision != l.Rev() {
			return false, 0, ErrNotLeader
		}
	}
	return resp.Succeeded, resp.Header.Revision, nil
}
