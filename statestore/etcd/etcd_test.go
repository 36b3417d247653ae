package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/statestore"
	"github.com/signetdns/signet/statestore/storetest"
)

// TestContract runs the statestore contract suite on a real one-member etcd, each subtest
// under its own prefix; a peer is a second client on the same prefix.
func TestContract(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) statestore.Store {
		return New(c.Client(t), fmt.Sprintf("/signet/test%d/", n.Add(1)))
	},
		storetest.Reopen(func(t *testing.T, old statestore.Store) statestore.Store {
			return New(c.Client(t), old.(*Store).prefix)
		}),
		storetest.Peer(func(t *testing.T, s statestore.Store) statestore.Store {
			return New(c.Client(t), s.(*Store).prefix)
		}))
}

// TestStaleLeaderCannotWrite: two instances campaign for the key leadership of one prefix.
// The leader writes; when its lease ends (a leader paused or cut off past the lease TTL,
// which does not know it lost), the other wins, and every write of the old leader fails with
// ErrNotLeader, even one based on the latest revision, while the new leader's succeed.
func TestStaleLeaderCannotWrite(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const prefix = "/signet/stale/"
	cliA, cliB := c.Client(t), c.Client(t)
	a, b := New(cliA, prefix), New(cliB, prefix)

	sessA, err := concurrency.NewSession(cliA, concurrency.WithTTL(2))
	if err != nil {
		t.Fatal(err)
	}
	elA := concurrency.NewElection(sessA, prefix+"leader")
	if err := elA.Campaign(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	a.Guard(elA)
	r1, err := a.Save(ctx, "example.test.", statestore.KeyState, []byte("by a"), 0)
	if err != nil {
		t.Fatalf("the leader's write: %v", err)
	}

	// b campaigns, and b writes nothing while it waits: unguarded writes are the import
	// tool's, not a follower's.
	sessB, err := concurrency.NewSession(cliB, concurrency.WithTTL(2))
	if err != nil {
		t.Fatal(err)
	}
	elB := concurrency.NewElection(sessB, prefix+"leader")
	won := make(chan error, 1)
	go func() { won <- elB.Campaign(ctx, "b") }()

	// a's lease ends without a knowing (its keep-alives stop, as in a pause or partition):
	// revoke it from b's client, as etcd does when the TTL runs out.
	sessA.Orphan()
	if _, err := cliB.Revoke(ctx, sessA.Lease()); err != nil {
		t.Fatal(err)
	}
	if err := <-won; err != nil {
		t.Fatalf("b's campaign: %v", err)
	}
	b.Guard(elB)

	if _, err := a.Save(ctx, "example.test.", statestore.KeyState, []byte("stale a"), r1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("the stale leader's write: %v, want ErrNotLeader", err)
	}
	if err := a.Delete(ctx, "example.test.", statestore.KeyState, r1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("the stale leader's delete: %v, want ErrNotLeader", err)
	}
	r2, err := b.Save(ctx, "example.test.", statestore.KeyState, []byte("by b"), r1)
	if err != nil {
		t.Fatalf("the new leader's write: %v", err)
	}
	if _, err := a.Save(ctx, "example.test.", statestore.KeyState, []byte("stale a"), r2); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("the stale leader's write on the latest revision: %v, want ErrNotLeader", err)
	}
	got, rev, err := a.Load(ctx, "example.test.", statestore.KeyState)
	if err != nil || string(got) != "by b" || rev != r2 {
		t.Fatalf("document %q rev %d (%v), want the new leader's %q rev %d", got, rev, err, "by b", r2)
	}
	// The guard holds a stale CAS apart from a lost election: b's stale write is a conflict.
	if _, err := b.Save(ctx, "example.test.", statestore.KeyState, []byte("b stale"), r1); !errors.Is(err, statestore.ErrConflict) {
		t.Fatalf("the leader's write on an old revision: %v, want ErrConflict", err)
	}
}
