package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/signetdns/signet/statestore"
)

// Option adjusts Run.
type Option func(*config)

type config struct {
	reopen func(t *testing.T, old statestore.Store) statestore.Store
	peer   func(t *testing.T, s statestore.Store) statestore.Store
}

// Reopen declares that the backend persists documents: f closes old (if it has anything to
// close) and returns a new Store over the same storage.
func Reopen(f func(t *testing.T, old statestore.Store) statestore.Store) Option {
	return func(c *config) { c.reopen = f }
}

// Peer declares that several writers can share the backend's storage: f returns a second,
// independent Store over the same storage as s (another instance's handle). Run then
// checks that s.Watch reports what the peer writes and that s's stale writes fail.
func Peer(f func(t *testing.T, s statestore.Store) statestore.Store) Option {
	return func(c *config) { c.peer = f }
}

const zone = "example.test."

// Run runs the contract suite. newStore must return a fresh, empty store.
func Run(t *testing.T, newStore func(t *testing.T) statestore.Store, opts ...Option) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, newStore(t)) })
	t.Run("CompareAndSwap", func(t *testing.T) { testCAS(t, newStore(t)) })
	t.Run("Apart", func(t *testing.T) { testApart(t, newStore(t)) })
	t.Run("Delete", func(t *testing.T) { testDelete(t, newStore(t)) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStore(t)) })
	t.Run("Cancelled", func(t *testing.T) { testCancelled(t, newStore(t)) })
	t.Run("Watch", func(t *testing.T) { testWatch(t, newStore(t)) })
	if c.reopen != nil {
		t.Run("Reopen", func(t *testing.T) { testReopen(t, newStore(t), c.reopen) })
	}
	if c.peer != nil {
		t.Run("Peer", func(t *testing.T) { testPeer(t, newStore(t), c.peer) })
	}
}

func mustSave(t *testing.T, s statestore.Store, z string, d statestore.Doc, data string, prev statestore.Revision) statestore.Revision {
	t.Helper()
	rev, err := s.Save(context.Background(), z, d, []byte(data), prev)
	if err != nil {
		t.Fatalf("Save(%s, %s, %q, %d): %v", z, d, data, prev, err)
	}
	if rev == 0 {
		t.Fatalf("Save(%s, %s) returned revision 0", z, d)
	}
	return rev
}

// expect checks that the document holds data at revision rev ("" and 0: absent).
func expect(t *testing.T, s statestore.Store, z string, d statestore.Doc, data string, rev statestore.Revision) {
	t.Helper()
	got, gotRev, err := s.Load(context.Background(), z, d)
	if rev == 0 {
		if !errors.Is(err, statestore.ErrNotFound) || gotRev != 0 {
			t.Fatalf("Load(%s, %s) = %q, %d, %v; want ErrNotFound, 0", z, d, got, gotRev, err)
		}
		return
	}
	if err != nil || string(got) != data || gotRev != rev {
		t.Fatalf("Load(%s, %s) = %q, %d, %v; want %q, %d", z, d, got, gotRev, err, data, rev)
	}
}

func testNotFound(t *testing.T, s statestore.Store) {
	for _, d := range statestore.Docs {
		expect(t, s, zone, d, "", 0)
	}
}

func testCAS(t *testing.T, s statestore.Store) {
	ctx := context.Background()
	r1 := mustSave(t, s, zone, statestore.KeyState, `{"v":1}`, 0)
	expect(t, s, zone, statestore.KeyState, `{"v":1}`, r1)
	if _, err := s.Save(ctx, zone, statestore.KeyState, []byte(`{"v":"again"}`), 0); !errors.Is(err, statestore.ErrConflict) {
		t.Fatalf("creating an existing document: %v, want ErrConflict", err)
	}
	r2 := mustSave(t, s, zone, statestore.KeyState, `{"v":2}`, r1)
	if r2 == r1 {
		t.Fatalf("new contents kept revision %d", r1)
	}
	if _, err := s.Save(ctx, zone, statestore.KeyState, []byte(`{"v":"stale"}`), r1); !errors.Is(err, statestore.ErrConflict) {
		t.Fatalf("stale Save: %v, want ErrConflict", err)
	}
	expect(t, s, zone, statestore.KeyState, `{"v":2}`, r2)
	// The returned bytes belong to the caller.
	b, _, err := s.Load(ctx, zone, statestore.KeyState)
	if err != nil {
		t.Fatal(err)
	}
	copy(b, "XXXX")
	expect(t, s, zone, statestore.KeyState, `{"v":2}`, r2)
}

func testApart(t *testing.T, s statestore.Store) {
	zones := []string{".", "test.", zone, "a.example.test."}
	revs := map[string]statestore.Revision{}
	for _, z := range zones {
		for _, d := range statestore.Docs {
			revs[z+string(d)] = mustSave(t, s, z, d, z+" "+string(d), 0)
		}
	}
	for _, z := range zones {
		for _, d := range statestore.Docs {
			expect(t, s, z, d, z+" "+string(d), revs[z+string(d)])
		}
	}
}

func testDelete(t *testing.T, s statestore.Store) {
	ctx := context.Background()
	if err := s.Delete(ctx, zone, statestore.Premade, 0); err != nil {
		t.Fatalf("deleting a missing document: %v", err)
	}
	r1 := mustSave(t, s, zone, statestore.Premade, "one", 0)
	r2 := mustSave(t, s, zone, statestore.Premade, "two", r1)
	if err := s.Delete(ctx, zone, statestore.Premade, r1); !errors.Is(err, statestore.ErrConflict) {
		t.Fatalf("stale Delete: %v, want ErrConflict", err)
	}
	expect(t, s, zone, statestore.Premade, "two", r2)
	if err := s.Delete(ctx, zone, statestore.Premade, r2); err != nil {
		t.Fatal(err)
	}
	expect(t, s, zone, statestore.Premade, "", 0)
	mustSave(t, s, zone, statestore.Premade, "three", 0)
}

// testConcurrent: writers that all read one revision race; exactly one may win, and the
// document holds the winner's contents.
func testConcurrent(t *testing.T, s statestore.Store) {
	r0 := mustSave(t, s, zone, statestore.KeyState, "start", 0)
	const n = 8
	var wg sync.WaitGroup
	wins := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := fmt.Sprintf("writer %d", i)
			_, err := s.Save(context.Background(), zone, statestore.KeyState, []byte(data), r0)
			switch {
			case err == nil:
				wins <- data
			case !errors.Is(err, statestore.ErrConflict):
				t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(wins)
	var won []string
	for w := range wins {
		won = append(won, w)
	}
	if len(won) != 1 {
		t.Fatalf("%d writers won a compare-and-swap on one revision (%v), want 1", len(won), won)
	}
	b, _, err := s.Load(context.Background(), zone, statestore.KeyState)
	if err != nil || string(b) != won[0] {
		t.Fatalf("document %q (%v), want the winner's %q", b, err, won[0])
	}
}

func testCancelled(t *testing.T, s statestore.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Save(ctx, zone, statestore.KeyState, []byte("x"), 0); err == nil {
		t.Error("Save with a cancelled context succeeded")
	}
	expect(t, s, zone, statestore.KeyState, "", 0)
	if _, _, err := s.Load(ctx, zone, statestore.KeyState); err == nil {
		t.Error("Load with a cancelled context succeeded")
	}
}

func testReopen(t *testing.T, s statestore.Store, reopen func(*testing.T, statestore.Store) statestore.Store) {
	rs := mustSave(t, s, zone, statestore.KeyState, "state", 0)
	rp := mustSave(t, s, zone, statestore.Premade, "premade", 0)
	s = reopen(t, s)
	expect(t, s, zone, statestore.KeyState, "state", rs)
	expect(t, s, zone, statestore.Premade, "premade", rp)
	mustSave(t, s, zone, statestore.KeyState, "after", rs)
}

// next returns the next change ch reports, failing the test if none comes in time.
func next(t *testing.T, ctx context.Context, ch <-chan statestore.Change) statestore.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("Watch channel closed early")
		}
		return c
	case <-ctx.Done():
		t.Fatal("Watch reported nothing")
	}
	return statestore.Change{}
}

// testWatch: the store's own writes are reported in order, a deletion with revision 0, and
// the channel closes when the context ends.
func testWatch(t *testing.T, s statestore.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wctx, stop := context.WithCancel(ctx)
	ch, err := s.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustSave(t, s, zone, statestore.KeyState, "one", 0)
	r2 := mustSave(t, s, "other.test.", statestore.Premade, "two", 0)
	if err := s.Delete(ctx, zone, statestore.KeyState, r1); err != nil {
		t.Fatal(err)
	}
	for _, want := range []statestore.Change{
		{Zone: zone, Doc: statestore.KeyState, Rev: r1},
		{Zone: "other.test.", Doc: statestore.Premade, Rev: r2},
		{Zone: zone, Doc: statestore.KeyState, Rev: 0},
	} {
		if got := next(t, ctx, ch); got != want {
			t.Fatalf("Watch reported %+v, want %+v", got, want)
		}
	}
	stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-ctx.Done():
			t.Fatal("Watch channel not closed after its context ended")
		}
	}
}

// testPeer: two handles on one storage, as two instances of a cluster. What one writes the
// other's Load returns and Watch reports; a write based on what it read before fails.
func testPeer(t *testing.T, s statestore.Store, peer func(*testing.T, statestore.Store) statestore.Store) {
	p := peer(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r1 := mustSave(t, s, zone, statestore.KeyState, "mine", 0)
	r2 := mustSave(t, p, zone, statestore.KeyState, "theirs", r1)
	expect(t, s, zone, statestore.KeyState, "theirs", r2)
	if _, err := s.Save(ctx, zone, statestore.KeyState, []byte("stale"), r1); !errors.Is(err, statestore.ErrConflict) {
		t.Fatalf("Save over a peer's newer write: %v, want ErrConflict", err)
	}
	if err := p.Delete(ctx, zone, statestore.KeyState, r2); err != nil {
		t.Fatal(err)
	}
	for _, want := range []statestore.Change{
		{Zone: zone, Doc: statestore.KeyState, Rev: r1},
		{Zone: zone, Doc: statestore.KeyState, Rev: r2},
		{Zone: zone, Doc: statestore.KeyState, Rev: 0},
	} {
		if got := next(t, ctx, ch); got != want {
			t.Fatalf("Watch reported %+v, want %+v", got, want)
		}
	}
}
