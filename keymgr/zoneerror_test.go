package keymgr

import (
	"context"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/statestore"
	filestate "github.com/signetdns/signet/statestore/file"
)

// brokenKeys is the memory keystore with keys that cannot be read (a corrupt key file) and,
// while noDelete is set, deletions that fail.
type brokenKeys struct {
	*memory.Store
	bad      sync.Map // key ID -> the error its Signer returns
	noDelete atomic.Bool
}

func (b *brokenKeys) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	if err, ok := b.bad.Load(id); ok {
		return nil, err.(error)
	}
	return b.Store.Signer(ctx, id)
}

func (b *brokenKeys) Delete(ctx context.Context, id string) error {
	if b.noDelete.Load() {
		return errors.New("keystore: remove: read-only file system")
	}
	return b.Store.Delete(ctx, id)
}

// failingState is the file state store whose saves fail while fail is set.
type failingState struct {
	*filestate.Store
	fail atomic.Bool
}

func (f *failingState) Save(ctx context.Context, zone string, doc statestore.Doc, data []byte, rev statestore.Revision) (statestore.Revision, error) {
	if f.fail.Load() {
		return 0, errors.New("statestore: write: no space left on device")
	}
	return f.Store.Save(ctx, zone, doc, data, rev)
}

// softOnly makes the fixture's keystore soft, for both roles.
func softOnly(soft keystore.Store) func(*Config) {
	return func(c *Config) { c.Soft, c.TPM = soft, nil }
}

func asZoneError(t *testing.T, err error) *ZoneError {
	t.Helper()
	var ze *ZoneError
	if !errors.As(err, &ze) {
		t.Fatalf("AddZone: %v, want a ZoneError", err)
	}
	if ze.Zone != testZone {
		t.Errorf("ZoneError of %s, want %s", ze.Zone, testZone)
	}
	return ze
}

// TestAddZoneCorruptState: a state document that does not decode fails that zone alone
// (ZoneError), overwrites nothing, and leaves the Manager able to add other zones, and the
// zone itself once the document is fixed.
func TestAddZoneCorruptState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	f := newFixture(t, dir, memory.New(), &flakyStore{Store: memory.New()}, newClock(t0))
	doc := filepath.Join(dir, "zones", "example.test.json")
	if err := os.WriteFile(doc, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	asZoneError(t, f.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}))
	if f.m.Signed(testZone) {
		t.Error("the zone is signed after its failed start")
	}
	if b, _ := os.ReadFile(doc); string(b) != "{" {
		t.Errorf("the corrupt state was overwritten: %q", b)
	}
	if err := f.m.AddZone(ctx, "other.test.", ZonePolicy{QuickStart: true}); err != nil {
		t.Fatalf("another zone after the failure: %v", err)
	}
	if _, _, ok := f.m.Signing("other.test."); !ok {
		t.Error("the other zone has no ring")
	}
	if err := os.Remove(doc); err != nil {
		t.Fatal(err)
	}
	if err := f.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
		t.Fatalf("the zone again, fixed: %v", err)
	}
	ring, _, _ := f.m.Signing(testZone)
	verifyRing(t, ring, t0)
}

// TestAddZoneUnreadableZSK: a signed zone whose ZSK cannot be read at a start that opens its
// keys (OpenKeys, a strict server's) has no ring to serve; its answers would go out
// unsigned, so AddZone fails for it alone. The same keys, readable again, start it with its
// ring. (A start that opens no key finds the ZSK at its first signature: lazy_test.go.)
func TestAddZoneUnreadableZSK(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	soft := &brokenKeys{Store: memory.New()}
	f := newFixture(t, dir, soft.Store, nil, newClock(t0), softOnly(soft))
	if err := f.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
		t.Fatal(err)
	}
	metas, err := soft.List(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas {
		if m.Role == keystore.ZSK {
			soft.bad.Store(m.ID, errors.New("keystore: decrypt "+m.ID+".key.age: corrupted"))
		}
	}
	at := t0.Add(PremadeStep / 2) // the saved pre-made signatures are still fresh
	g := newFixture(t, dir, soft.Store, nil, newClock(at), softOnly(soft))
	asZoneError(t, g.m.AddZone(ctx, testZone, ZonePolicy{OpenKeys: true}))
	if _, _, ok := g.m.Signing(testZone); ok {
		t.Error("a ring is served without the ZSK")
	}
	soft.bad.Clear()
	if err := g.m.AddZone(ctx, testZone, ZonePolicy{OpenKeys: true}); err != nil {
		t.Fatalf("readable again: %v", err)
	}
	ring, _, _ := g.m.Signing(testZone)
	verifyRing(t, ring, at)
	if after, _ := soft.List(ctx, testZone); len(after) != len(metas) {
		t.Errorf("%d keys after the failed and the good start, want the %d made first", len(after), len(metas))
	}
}

// TestQuickStartRetryDropsOrphans: a quick start whose state cannot be saved, and whose new
// keys then cannot be deleted, leaves keys no state names; the next attempt deletes them and
// makes the zone's keys afresh, so only the keys its state names remain. Left by an earlier
// process, such keys go at the first start that finds the zone's state.
func TestQuickStartRetryDropsOrphans(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	soft := &brokenKeys{Store: memory.New()}
	state := &failingState{Store: fileState(t, dir)}
	f := newFixture(t, dir, soft.Store, nil, newClock(t0), softOnly(soft), func(c *Config) { c.State = state })
	state.fail.Store(true)
	soft.noDelete.Store(true)
	asZoneError(t, f.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}))
	orphans, err := soft.List(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 2 {
		t.Fatalf("%d keys left by the failed start, want its KSK and ZSK (the deletion failed)", len(orphans))
	}

	state.fail.Store(false)
	soft.noDelete.Store(false)
	if err := f.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
		t.Fatal(err)
	}
	after, err := soft.List(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 2 {
		t.Errorf("%d keys after the retry, want 2", len(after))
	}
	for _, o := range orphans {
		for _, a := range after {
			if a.ID == o.ID {
				t.Errorf("key %s of the failed start is still there", o.ID)
			}
		}
	}
	ring, _, _ := f.m.Signing(testZone)
	verifyRing(t, ring, t0)

	// Another process: its failed start's keys outlive it; the next process's quick start
	// makes new ones, and the start after that, which finds a state, deletes the old ones
	// (at the loop's first step).
	dir = t.TempDir()
	state = &failingState{Store: fileState(t, dir)}
	state.fail.Store(true)
	soft.noDelete.Store(true)
	other := newFixture(t, dir, soft.Store, nil, newClock(t0), softOnly(soft), func(c *Config) { c.State = state })
	const zone = "other.test."
	if err := other.m.AddZone(ctx, zone, ZonePolicy{QuickStart: true}); err == nil {
		t.Fatal("quick start without a state store: no error")
	}
	state.fail.Store(false)
	soft.noDelete.Store(false)
	for i, want := range []int{4, 2} {
		g := newFixture(t, dir, soft.Store, nil, newClock(t0), softOnly(soft))
		if err := g.m.AddZone(ctx, zone, ZonePolicy{QuickStart: true}); err != nil {
			t.Fatal(err)
		}
		g.m.Step(ctx, t0) // the loop's first step after the start
		if got, _ := soft.List(ctx, zone); len(got) != want {
			t.Errorf("start %d of a new process: %d keys, want %d", i+1, len(got), want)
		}
	}
}

// TestAddZoneCancelledIsNotZoneError: a start cut short (the server stopping) is no zone's
// own failure.
func TestAddZoneCancelledIsNotZoneError(t *testing.T) {
	f := newFixture(t, t.TempDir(), memory.New(), nil, newClock(t0), softOnly(memory.New()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := f.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true})
	var ze *ZoneError
	if err == nil || errors.As(err, &ze) {
		t.Fatalf("AddZone with its context ended: %v, want an error that is not a ZoneError", err)
	}
}
