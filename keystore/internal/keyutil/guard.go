package keyutil

import (
	"context"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/signetdns/signet/keystore"
)

// Guard is a backend's lock and its closed flag. Every Store call checks its context and
// that the store is still open while holding the lock, so that Close cannot slip in
// between; the backend's own state (its caches) shares the lock. The zero value is an open
// store.
type Guard struct {
	mu     sync.RWMutex
	closed bool
}

// RLock checks ctx, then read-locks and fails with keystore.ErrClosed (unlocked again) once
// the store is closed. When it returns nil the caller holds the read lock and must RUnlock.
func (g *Guard) RLock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return keystore.ErrClosed
	}
	return nil
}

// RUnlock releases the read lock RLock took.
func (g *Guard) RUnlock() { g.mu.RUnlock() }

// Lock is RLock for writing: on nil the caller holds the write lock and must Unlock.
func (g *Guard) Lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return keystore.ErrClosed
	}
	return nil
}

// Unlock releases the write lock Lock took.
func (g *Guard) Unlock() { g.mu.Unlock() }

// Check reports what RLock would, holding no lock afterwards: for a call whose slow part
// (key generation, a decryption) runs unlocked before it locks to commit.
func (g *Guard) Check(ctx context.Context) error {
	if err := g.RLock(ctx); err != nil {
		return err
	}
	g.mu.RUnlock()
	return nil
}

// Closed reports whether Close has run.
func (g *Guard) Closed() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.closed
}

// Close marks the store closed and runs release (which drops what the store holds in
// memory) under the write lock, once: it reports false, running nothing, when the store was
// closed already.
func (g *Guard) Close(release func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closed = true
	release()
	return true
}

// Shared runs load for key id once among concurrent callers (one decryption, however many ask
// at once) and waits for it no longer than ctx allows: a caller that gives up leaves the load
// running, so that it still fills the backend's cache for the next caller.
func Shared(ctx context.Context, g *singleflight.Group, id string, load func() (*Counting, error)) (*Counting, error) {
	ch := g.DoChan(id, func() (any, error) { return load() })
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Counting), nil
	}
}
