package keymgr

import (
	"context"
	"testing"
	"time"
)

// TestZSKRotation drives the loop over 100 simulated days: the ZSK is replaced every 30
// days by pre-publish rollover, old ZSKs leave the keystore, and every ring the zone serves
// along the way signs verifiably.
func TestZSKRotation(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true, MaxZoneTTL: func() time.Duration { return 2 * time.Hour }})
	ring, _, _ := f.m.Signing(testZone)
	first := zskIDs(t, f.soft)
	if len(first) != 1 {
		t.Fatalf("%d ZSKs at start", len(first))
	}
	seen := map[string]bool{}
	for id := range first {
		seen[id] = true
	}
	rings, maxZSKs := 1, 1
	now := t0
	end := t0.Add(100 * 24 * time.Hour)
	for steps := 0; now.Before(end); steps++ {
		if steps > 1000 {
			t.Fatal("loop does not advance")
		}
		f.clk.set(now)
		next := f.m.Step(ctx, now)
		if !next.After(now) {
			t.Fatalf("Step at %s asks to run again at %s", now, next)
		}
		r, _, ok := f.m.Signing(testZone)
		if !ok {
			t.Fatalf("unsigned at %s", now)
		}
		if r != ring {
			rings++
			ring = r
			verifyRing(t, r, now)
		}
		ids := zskIDs(t, f.soft)
		maxZSKs = max(maxZSKs, len(ids))
		for id := range ids {
			seen[id] = true
		}
		now = next
	}
	// 100 days: rollovers near days 30, 60 and 90 (each publishing a successor, activating
	// it, removing the predecessor), plus the daily pre-made signature refreshes.
	if len(seen) != 4 {
		t.Errorf("%d distinct ZSKs over 100 days, want 4", len(seen))
	}
	if got := zskIDs(t, f.soft); len(got) != 1 {
		t.Errorf("%d ZSKs left in the keystore, want 1 (old ones deleted)", len(got))
	}
	for id := range first {
		if zskIDs(t, f.soft)[id] {
			t.Error("the first ZSK was never deleted")
		}
	}
	if maxZSKs != 2 {
		t.Errorf("at most %d ZSKs at once, want 2 (pre-publish)", maxZSKs)
	}
	if rings < 100 {
		t.Errorf("%d rings over 100 days; pre-made signatures are refreshed daily", rings)
	}
	// The metrics see the same: three rollovers started, three old ZSKs deleted, and the
	// next rollover due within the current ZSK's 30 days.
	h := healthNow(t, f.m)
	if a := h.RolloverActions; a["create-zsk"] != 3 || a["delete"] != 3 || a["create-ksk"] != 0 {
		t.Errorf("rollover actions %v, want 3 create-zsk and 3 delete", a)
	}
	if next := h.NextZSKRollover; !next.After(now.Add(-time.Hour)) || next.After(now.Add(30*24*time.Hour)) {
		t.Errorf("next ZSK rollover %v, want within 30 days of %v", next, now)
	}
	if !h.NextKSKRollover.IsZero() {
		t.Errorf("a manual KSK has a next rollover: %v", h.NextKSKRollover)
	}
}
