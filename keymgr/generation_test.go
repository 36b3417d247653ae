package keymgr

import (
	"context"
	"testing"
)

// TestGenerationFollowsTheRing: every change of the ring Signing returns moves Generation,
// which the server's packet cache relies on to never serve a response made with an old ring.
func TestGenerationFollowsTheRing(t *testing.T) {
	f := setup(t, ZonePolicy{QuickStart: true})
	ctx := context.Background()
	ring0, _, _ := f.m.Signing(testZone)
	g0 := f.m.Generation()

	if err := f.m.CreateKSK(ctx, testZone, "second", "ACTIVE"); err != nil {
		t.Fatal(err)
	}
	ring1, _, _ := f.m.Signing(testZone)
	g1 := f.m.Generation()
	if ring1 == ring0 || g1 == g0 {
		t.Fatalf("ring changed=%v, generation %d -> %d", ring1 != ring0, g0, g1)
	}
	if err := f.m.Disable(ctx, testZone, true); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := f.m.Signing(testZone); ok || f.m.Generation() == g1 {
		t.Fatalf("after disable: signed=%v, generation %d (was %d)", ok, f.m.Generation(), g1)
	}
}
