package keymgr

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/memory"
)

// damagedStore is the memory keystore with some keys' metadata damaged, as the file and etcd
// keystores see it: List leaves them out and names them (*keystore.UnreadableError), Signer
// fails for them. It counts the Lists and records the Deletes.
type damagedStore struct {
	*memory.Store
	mu      sync.Mutex
	bad     map[string]bool
	deleted []string
	lists   atomic.Int64
}

func (d *damagedStore) damage(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bad[id] = true
}

func (d *damagedStore) isBad(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bad[id]
}

func (d *damagedStore) List(ctx context.Context, zone string) ([]keystore.Meta, error) {
	d.lists.Add(1)
	all, err := d.Store.List(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []keystore.Meta
	var skipped []keystore.Unreadable
	for _, m := range all {
		if d.isBad(m.ID) {
			// The zone cannot be read from it: only the state that names the ID tells.
			skipped = append(skipped, keystore.Unreadable{ID: m.ID, Where: "mem/" + m.ID + ".json", Err: errors.New("corrupted metadata mem/" + m.ID + ".json")})
			continue
		}
		out = append(out, m)
	}
	if len(skipped) > 0 && zone == "" {
		return out, &keystore.UnreadableError{Entries: skipped}
	}
	return out, nil
}

func (d *damagedStore) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	if d.isBad(id) {
		return nil, fmt.Errorf("keystore: corrupted metadata mem/%s.json", id)
	}
	return d.Store.Signer(ctx, id)
}

func (d *damagedStore) Delete(ctx context.Context, id string) error {
	d.mu.Lock()
	d.deleted = append(d.deleted, id)
	d.mu.Unlock()
	return d.Store.Delete(ctx, id)
}

// TestOrphansOneListing: after a restart of 30 zones, the loop's first step lists the
// keystore once for all their orphans, not once per zone. With one zone's ZSK unreadable in
// the keystore and a crash's leftover key in another zone: the leftover is deleted, the
// unreadable key is not (nor anything else), UnreadableKeys counts it, and the zone whose
// state names it alone fails (OnKeyFailure), without any query having asked for its ZSK.
func TestOrphansOneListing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	soft := &damagedStore{Store: memory.New(), bad: map[string]bool{}}
	names := make([]string, 30)
	for i := range names {
		names[i] = fmt.Sprintf("o%02d.example.test.", i)
	}
	clk := newClock(t0)
	start := func() *Manager {
		m, err := New(Config{State: fileState(t, dir), Soft: soft, Now: clk.now, KSKCheckInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		for i, err := range addZones(m, names, 4) {
			if err != nil {
				t.Fatalf("zone %s: %v", names[i], err)
			}
		}
		return m
	}
	first := start()
	zsk := func(m *Manager, zone string) string {
		z, _ := m.lookup(zone)
		z.mu.Lock()
		defer z.mu.Unlock()
		return z.st.ZSKs[0].ID
	}
	bad := zsk(first, names[1])
	soft.damage(bad)
	leftover, err := soft.Create(ctx, names[0], keystore.ZSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}

	m := start() // a restart: every zone from its state, its orphans due at the first step
	var mu sync.Mutex
	failed := map[string]error{}
	m.OnKeyFailure(func(zone string, err error) {
		mu.Lock()
		defer mu.Unlock()
		failed[zone] = err
	})
	before := soft.lists.Load()
	m.Step(ctx, clk.now())
	if n := soft.lists.Load() - before; n != 1 {
		t.Errorf("the first step listed the keystore %d times for %d zones, want once", n, len(names))
	}
	soft.mu.Lock()
	deleted := append([]string(nil), soft.deleted...)
	soft.mu.Unlock()
	if len(deleted) != 1 || deleted[0] != leftover.ID {
		t.Errorf("deleted %v, want only the leftover %s (never the unreadable %s)", deleted, leftover.ID, bad)
	}
	if got := m.UnreadableKeys(); got[storeSoft] != 1 {
		t.Errorf("UnreadableKeys = %v, want soft: 1", got)
	}
	mu.Lock()
	defer mu.Unlock()
	var ze *ZoneError
	if len(failed) != 1 || !errors.As(failed[names[1]], &ze) {
		t.Errorf("key failures %v, want %s's alone", failed, names[1])
	}
	// Another step lists nothing more: the orphans are done.
	m.Step(ctx, clk.now())
	if n := soft.lists.Load() - before; n != 1 {
		t.Errorf("%d listings after a second step, want still 1", n)
	}
}
