package keymgr

import (
	"context"
	"testing"
	"time"
)

// TestKSKOutage: the TPM stops answering. The KSK turns ACTION_NEEDED at the next refresh,
// the served ring keeps its pre-made signatures (valid days later), and the KSK turns
// ACTIVE again by itself once the TPM answers.
func TestKSKOutage(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true})
	ring, _, _ := f.m.Signing(testZone)

	f.tpm.down.Store(true)
	at := t0.Add(PremadeStep) // the daily refresh is due
	f.clk.set(at)
	next := f.m.Step(ctx, at)
	got, _ := f.m.GetDNSSEC(ctx, testZone)
	if got.Status.ServeSignature != StatusActionNeeded || got.KeySigningKeys[0].Status != StatusActionNeeded {
		t.Fatalf("TPM down: zone %s, KSK %s", got.Status.ServeSignature, got.KeySigningKeys[0].Status)
	}
	if r, _, ok := f.m.Signing(testZone); !ok || r != ring {
		t.Fatal("the served ring changed while the KSK cannot sign")
	}
	if want := at.Add(RetryMin); !next.Equal(want) {
		t.Errorf("next step %s, want a retry at %s", next, want)
	}
	// Three days into the outage the zone still validates.
	verifyRing(t, ring, t0.Add(3*24*time.Hour))
	if until := ring.PremadeValidUntil(); until.Before(t0.Add(14 * 24 * time.Hour)) {
		t.Errorf("pre-made signatures run out at %s", until)
	}
	// An operation that needs a new DNSKEY signature is refused, nothing changes.
	mustCode(t, f.m.CreateKSK(ctx, testZone, "second", ""), CodeInvalidKeySigningKeyStatus)
	if r, _, _ := f.m.Signing(testZone); r != ring {
		t.Fatal("refused operation swapped the ring")
	}

	// Retries back off while the TPM stays down.
	at2 := next
	f.clk.set(at2)
	if next2 := f.m.Step(ctx, at2); !next2.Equal(at2.Add(2 * RetryMin)) {
		t.Errorf("second retry at %s, want %s", next2, at2.Add(2*RetryMin))
	}

	f.tpm.down.Store(false)
	at3 := at2.Add(2 * RetryMin)
	f.clk.set(at3)
	f.m.Step(ctx, at3)
	got, _ = f.m.GetDNSSEC(ctx, testZone)
	if got.Status.ServeSignature != StatusSigning || got.KeySigningKeys[0].Status != StatusActive {
		t.Fatalf("TPM back: zone %s, KSK %s (%s)", got.Status.ServeSignature, got.KeySigningKeys[0].Status, got.KeySigningKeys[0].StatusMessage)
	}
	r2, _, _ := f.m.Signing(testZone)
	if r2 == ring {
		t.Error("ring not refreshed after recovery")
	}
	verifyRing(t, r2, at3.Add(10*24*time.Hour))
}
