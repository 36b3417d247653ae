package keyutil

import (
	"context"
	"errors"
	"testing"

	"github.com/signetdns/signet/keystore"
)

// TestGuard: a cancelled context wins over everything, a closed store answers ErrClosed from
// every entry point and leaves the lock free, and Close releases once.
func TestGuard(t *testing.T) {
	t.Parallel()
	var g Guard
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for name, enter := range map[string]func(context.Context) error{
		"RLock": func(c context.Context) error {
			err := g.RLock(c)
			if err == nil {
				g.RUnlock()
			}
			return err
		},
		"Lock": func(c context.Context) error {
			err := g.Lock(c)
			if err == nil {
				g.Unlock()
			}
			return err
		},
		"Check": g.Check,
	} {
		if err := enter(ctx); err != nil {
			t.Errorf("%s on an open store: %v", name, err)
		}
		if err := enter(cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}
	if g.Closed() {
		t.Fatal("a new Guard reports closed")
	}
	released := 0
	if !g.Close(func() { released++ }) || g.Close(func() { released++ }) || released != 1 {
		t.Fatalf("Close twice: released %d times, want once, and true then false", released)
	}
	if !g.Closed() {
		t.Fatal("Closed is false after Close")
	}
	if err := g.RLock(ctx); !errors.Is(err, keystore.ErrClosed) {
		t.Errorf("RLock after Close: %v", err)
	}
	if err := g.Lock(ctx); !errors.Is(err, keystore.ErrClosed) {
		t.Errorf("Lock after Close: %v", err)
	}
	if err := g.Check(ctx); !errors.Is(err, keystore.ErrClosed) {
		t.Errorf("Check after Close: %v", err)
	}
	if err := g.Check(cancelled); !errors.Is(err, context.Canceled) {
		t.Errorf("Check after Close with a cancelled context: %v, want the context's error first", err)
	}
	// Every refusal above released the lock: a writer still gets it.
	if !g.mu.TryLock() {
		t.Fatal("a refused call left the lock held")
	}
	g.mu.Unlock()
}
