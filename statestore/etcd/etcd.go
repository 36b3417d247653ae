package etcd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/signetdns/signet/internal/etcdguard"
	"github.com/signetdns/signet/statestore"
)

// ErrNotLeader is returned (wrapped) by a guarded write when this instance no longer holds
// the election it was guarded with: nothing was written.
var ErrNotLeader = etcdguard.ErrNotLeader

// rewatchDelay spaces the restarts of a watch that etcd ended.
const rewatchDelay = 200 * time.Millisecond

// Store keeps zone documents in etcd under a prefix.
type Store struct {
	cli    *clientv3.Client
	prefix string

	guard etcdguard.Guard
}

var _ statestore.Store = (*Store)(nil)

// New returns the Store over cli with every key under prefix (for example
// "/signet/<cluster>/"). Writes are unguarded until Guard is called.
func New(cli *clientv3.Client, prefix string) *Store {
	return &Store{cli: cli, prefix: prefix}
}

// Guard makes every later write conditional on l still being the election's winner; nil
// removes the guard.
func (s *Store) Guard(l etcdguard.Leader) { s.guard.Set(l) }

func (s *Store) key(zone string, doc statestore.Doc) (string, error) {
	if !doc.Valid() {
		return "", fmt.Errorf("statestore: unknown document %q", doc)
	}
	if zone == "" || strings.Contains(zone, "/") || zone != strings.ToLower(zone) || !strings.HasSuffix(zone, ".") {
		return "", fmt.Errorf("statestore: %q is not a canonical zone name", zone)
	}
	return s.prefix + "zones/" + zone + "/" + string(doc), nil
}

// parse is key's inverse; ok is false for keys that are not documents.
func (s *Store) parse(key string) (zone string, doc statestore.Doc, ok bool) {
	rest, found := strings.CutPrefix(key, s.prefix+"zones/")
	i := strings.LastIndexByte(rest, '/')
	if !found || i <= 0 {
		return "", "", false
	}
	doc = statestore.Doc(rest[i+1:])
	return rest[:i], doc, doc.Valid()
}

// Load implements statestore.Store. It reads linearizably: what any instance wrote before is
// seen.
func (s *Store) Load(ctx context.Context, zone string, doc statestore.Doc) ([]byte, statestore.Revision, error) {
	k, err := s.key(zone, doc)
	if err != nil {
		return nil, 0, err
	}
	resp, err := s.cli.Get(ctx, k)
	if err != nil {
		return nil, 0, fmt.Errorf("statestore: etcd get %s: %w", k, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, 0, fmt.Errorf("%s: %w", k, statestore.ErrNotFound)
	}
	kv := resp.Kvs[0]
	return kv.Value, statestore.Revision(kv.ModRevision), nil
}

// Save implements statestore.Store.
func (s *Store) Save(ctx context.Context, zone string, doc statestore.Doc, data []byte, prev statestore.Revision) (statestore.Revision, error) {
	k, err := s.key(zone, doc)
	if err != nil {
		return 0, err
	}
	rev, err := s.write(ctx, k, prev, clientv3.OpPut(k, string(data)))
	return statestore.Revision(rev), err
}

// Delete implements statestore.Store.
func (s *Store) Delete(ctx context.Context, zone string, doc statestore.Doc, prev statestore.Revision) error {
	k, err := s.key(zone, doc)
	if err != nil {
		return err
	}
	if prev == 0 {
		// Nothing to delete if it is absent, but the comparison still tells a document
		// someone else created.
		_, err = s.write(ctx, k, 0)
		return err
	}
	_, err = s.write(ctx, k, prev, clientv3.OpDelete(k))
	return err
}

// write commits ops in one transaction if k's revision is prev and the guard (if any) still
// holds, and returns the transaction's revision.
func (s *Store) write(ctx context.Context, k string, prev statestore.Revision, ops ...clientv3.Op) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(k), "=", int64(prev))}
	if prev == 0 {
		cmps[0] = clientv3.Compare(clientv3.CreateRevision(k), "=", 0)
	}
	ok, rev, err := s.guard.Commit(ctx, s.cli, cmps, ops...)
	switch {
	case errors.Is(err, ErrNotLeader):
		return 0, fmt.Errorf("statestore: write %s: %w", k, err)
	case err != nil:
		return 0, fmt.Errorf("statestore: etcd transaction on %s: %w", k, err)
	case !ok:
		return 0, fmt.Errorf("%s: %w", k, statestore.ErrConflict)
	}
	return rev, nil
}

// Revision returns the etcd cluster's current revision: an instance that has applied every
// change up to it serves the cluster's latest state.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	resp, err := s.cli.Get(ctx, s.prefix+"zones/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("statestore: etcd: %w", err)
	}
	return resp.Header.Revision, nil
}

// Watch implements statestore.Store. When etcd has compacted away revisions the watch
// missed (a long partition), it reports every document as it is now and watches on from
// there, so a follower never misses the last state of a document.
func (s *Store) Watch(ctx context.Context) (<-chan statestore.Change, error) {
	start, err := s.Revision(ctx)
	if err != nil {
		return nil, err
	}
	ch := make(chan statestore.Change, 16)
	go func() {
		defer close(ch)
		from := start + 1
		for ctx.Err() == nil {
			from = s.watch(ctx, ch, from)
			// The watch ended (etcd lost its quorum, or this member is gone): the client
			// reconnects by itself; wait a little rather than spin.
			select {
			case <-time.After(rewatchDelay):
			case <-ctx.Done():
			}
		}
	}()
	return ch, nil
}

// watch forwards events from revision from until the watch ends, and returns the revision
// to resume from.
func (s *Store) watch(ctx context.Context, ch chan<- statestore.Change, from int64) int64 {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for resp := range s.cli.Watch(wctx, s.prefix+"zones/", clientv3.WithPrefix(), clientv3.WithRev(from)) {
		if resp.CompactRevision != 0 {
			return s.resync(ctx, ch)
		}
		if err := resp.Err(); err != nil {
			return from
		}
		for _, ev := range resp.Events {
			zone, doc, ok := s.parse(string(ev.Kv.Key))
			if !ok {
				continue
			}
			c := statestore.Change{Zone: zone, Doc: doc, Rev: statestore.Revision(ev.Kv.ModRevision)}
			if ev.Type == clientv3.EventTypeDelete {
				c.Rev = 0
			}
			select {
			case ch <- c:
			case <-ctx.Done():
				return from
			}
		}
		from = resp.Header.Revision + 1
	}
	return from
}

// resync reports every document as it is now (a document deleted in the revisions missed is
// not reported: the reader finds it gone when it loads it) and returns the revision to watch on from.
func (s *Store) resync(ctx context.Context, ch chan<- statestore.Change) int64 {
	resp, err := s.cli.Get(ctx, s.prefix+"zones/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return 0 // watch from the oldest revision etcd has; compaction is reported again
	}
	for _, kv := range resp.Kvs {
		if zone, doc, ok := s.parse(string(kv.Key)); ok {
			select {
			case ch <- statestore.Change{Zone: zone, Doc: doc, Rev: statestore.Revision(kv.ModRevision)}:
			case <-ctx.Done():
			}
		}
	}
	return resp.Header.Revision + 1
}

// CreateOps returns the comparison and the write, for one etcd transaction the caller
// commits, that create the document with data: the comparison holds while the document
// does not exist. Making a single server's state a cluster's commits them together with the
// keys the state names, so that a zone is imported whole or not at all.
func (s *Store) CreateOps(zone string, doc statestore.Doc, data []byte) (clientv3.Cmp, clientv3.Op, error) {
	k, err := s.key(zone, doc)
	if err != nil {
		return clientv3.Cmp{}, clientv3.Op{}, err
	}
	return clientv3.Compare(clientv3.CreateRevision(k), "=", 0), clientv3.OpPut(k, string(data)), nil
}
