package keymgr

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signetdns/signet/signer"
)

func deferPremade(c *Config) { c.DeferPremade = true }

// premadePath is the file of the test zone's saved pre-made signatures.
func premadePath(f *fixture) string { return filepath.Join(f.dir, "zones", "example.test.premade") }

// TestDeferPremade: with Config.DeferPremade a quick start serves the first window of
// pre-made signatures alone and saves none; a restart before the rest are made does the
// same; Run then makes the whole set and saves it, and the next restart reuses it.
func TestDeferPremade(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true}, deferPremade)
	week := signer.DefaultValidity
	partial := func(t *testing.T, f *fixture, at time.Time) {
		t.Helper()
		ring, _, ok := f.m.Signing(testZone)
		if !ok {
			t.Fatal("not signed")
		}
		if n := len(ring.Premade()); n != 1 {
			t.Fatalf("%d pre-made signatures at the start, want the first window's 1", n)
		}
		verifyRing(t, ring, at)
		if until := ring.PremadeValidUntil(); !until.Equal(at.Add(week)) {
			t.Errorf("the first window lasts until %s, want %s", until, at.Add(week))
		}
		if _, err := os.Stat(premadePath(f)); !os.IsNotExist(err) {
			t.Fatalf("pre-made signatures saved at the start (%v): they are Run's to save", err)
		}
	}
	partial(t, f, t0)

	// A restart (a crash) before Run made them: the start makes the first window again.
	at := t0.Add(time.Hour)
	f.clk.set(at)
	g := newFixture(t, f.dir, f.soft, f.tpm, f.clk, deferPremade)
	if err := g.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
		t.Fatal(err)
	}
	partial(t, g, at)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); g.m.Run(runCtx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ring, _, _ := g.m.Signing(testZone)
		if _, err := os.Stat(premadePath(g)); err == nil && len(ring.Premade()) == PremadeCount {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run did not complete the pre-made signatures within 10 s (%d served)", len(ring.Premade()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	ring, _, _ := g.m.Signing(testZone)
	verifyRing(t, ring, at.Add(14*24*time.Hour))

	// The whole set is what the next start serves, without making anything.
	before := readDir(t, filepath.Join(f.dir, "zones"))
	h := newFixture(t, f.dir, f.soft, f.tpm, f.clk, deferPremade)
	if err := h.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
		t.Fatal(err)
	}
	if ring, _, _ := h.m.Signing(testZone); len(ring.Premade()) != PremadeCount {
		t.Fatalf("%d pre-made signatures after a restart, want the saved %d", len(ring.Premade()), PremadeCount)
	}
	after := readDir(t, filepath.Join(f.dir, "zones"))
	for name, b := range before {
		if string(after[name]) != string(b) {
			t.Errorf("%s rewritten by a start that had every pre-made signature", name)
		}
	}
}

// TestDeferPremadeKSKDown: a KSK that cannot sign when the rest of the pre-made signatures
// are to be made leaves the first window served, turns ACTION_NEEDED, and the loop's retry
// makes and saves the whole set once it signs again.
func TestDeferPremadeKSKDown(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true}, deferPremade)
	ring, _, _ := f.m.Signing(testZone)
	z, _ := f.m.lookup(testZone)

	f.tpm.down.Store(true)
	at := t0.Add(time.Minute)
	f.clk.set(at)
	f.m.fill(ctx, z)
	got, _ := f.m.GetDNSSEC(ctx, testZone)
	if got.Status.ServeSignature != StatusActionNeeded || got.KeySigningKeys[0].Status != StatusActionNeeded {
		t.Fatalf("TPM down: zone %s, KSK %s", got.Status.ServeSignature, got.KeySigningKeys[0].Status)
	}
	if r, _, ok := f.m.Signing(testZone); !ok || r != ring {
		t.Fatal("the served ring changed while the KSK cannot sign")
	}
	verifyRing(t, ring, at.Add(6*24*time.Hour))
	if _, err := os.Stat(premadePath(f)); !os.IsNotExist(err) {
		t.Fatalf("pre-made signatures saved while the KSK cannot sign (%v)", err)
	}

	f.tpm.down.Store(false)
	at = at.Add(RetryMin)
	f.clk.set(at)
	f.m.Step(ctx, at)
	got, _ = f.m.GetDNSSEC(ctx, testZone)
	if got.Status.ServeSignature != StatusSigning || got.KeySigningKeys[0].Status != StatusActive {
		t.Fatalf("TPM back: zone %s, KSK %s", got.Status.ServeSignature, got.KeySigningKeys[0].Status)
	}
	ring, _, _ = f.m.Signing(testZone)
	if n := len(ring.Premade()); n != PremadeCount {
		t.Fatalf("%d pre-made signatures after the retry, want %d", n, PremadeCount)
	}
	if _, err := os.Stat(premadePath(f)); err != nil {
		t.Fatalf("pre-made signatures not saved after the retry: %v", err)
	}
	// Completed by the retry: nothing left for fill to do.
	f.m.fill(ctx, z)
	if r, _, _ := f.m.Signing(testZone); r != ring {
		t.Error("fill rebuilt a ring that had every pre-made signature")
	}
}
