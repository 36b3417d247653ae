package keymgr

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/signer"
)

// TestTakeOverLostKSK: the zone's TPM-sealed KSK can no longer be loaded (the state moved to
// a machine with another TPM). A successor made INACTIVE leaves the DNSKEY RRset and its
// pre-made signatures alone; activating it is refused until every parent server has
// published its DS for the parent's propagation time and DS TTL, and then the DNSKEY RRset
// goes from the lost KSK to the successor in one step (double-DS, RFC 6781 §4.1.2), with
// the same ZSK. A zone with automatic KSK rollover is switched to manual for the move.
func TestTakeOverLostKSK(t *testing.T) {
	for _, automatic := range []bool{false, true} {
		t.Run(fmt.Sprintf("automatic=%v", automatic), func(t *testing.T) { takeOverLostKSK(t, automatic) })
	}
}

func takeOverLostKSK(t *testing.T, automatic bool) {
	ctx := context.Background()
	parent := newParent(0)
	f := setup(t, ZonePolicy{QuickStart: true, Parents: []string{parent.addr}, Rollover: rollover.Policy{KSKAutomatic: automatic}}, parent.use)
	before, _ := f.m.GetDNSSEC(ctx, testZone)
	oldDS := mustRR(t, before.KeySigningKeys[0].DSZoneFile).(*dns.DS)
	parent.set([]*dns.DS{oldDS})
	first, _, _ := f.m.Signing(testZone)
	zskBefore := zskTags(first)

	// The state directory moves to a machine whose TPM cannot load the key.
	f.tpm.lost.Store(kskID(t, f, "quickstart"), true)
	at := t0.Add(time.Hour)
	f.clk.set(at)
	f = restart(t, f, ZonePolicy{Parents: []string{parent.addr}}, parent.use)
	got, _ := f.m.GetDNSSEC(ctx, testZone)
	if got.KeySigningKeys[0].Status != StatusActionNeeded {
		t.Fatalf("lost KSK: %s", got.KeySigningKeys[0].Status)
	}
	ring, _, _ := f.m.Signing(testZone)
	verifyRing(t, ring, at.Add(24*time.Hour)) // pre-made signatures

	// A successor cannot be published beside it (nothing can sign that DNSKEY RRset)...
	mustCode(t, f.m.CreateKSK(ctx, testZone, "next", StatusActive), CodeInvalidKeySigningKeyStatus)
	// ... but it can be made INACTIVE, which changes nothing served.
	if err := f.m.CreateKSK(ctx, testZone, "next", StatusInactive); err != nil {
		t.Fatalf("create an INACTIVE successor while the KSK cannot sign: %v", err)
	}
	if r, _, _ := f.m.Signing(testZone); r != ring {
		t.Fatal("creating an INACTIVE KSK swapped the ring")
	}
	got, _ = f.m.GetDNSSEC(ctx, testZone)
	var newDS *dns.DS
	for _, k := range got.KeySigningKeys {
		if k.Name == "next" {
			if k.Status != StatusInactive {
				t.Fatalf("successor %s", k.Status)
			}
			newDS = mustRR(t, k.DSZoneFile).(*dns.DS)
		}
	}
	if newDS == nil {
		t.Fatal("no successor KSK listed")
	}

	// Its DS is not at the parent yet: refused, nothing changes.
	err := f.m.ActivateKSK(ctx, testZone, "next")
	mustCode(t, err, CodeInvalidKeySigningKeyStatus)
	if !strings.Contains(err.Error(), "add it at the parent") {
		t.Errorf("refusal without the DS: %v", err)
	}

	// The parent publishes both DS records: the first activation starts the wait.
	parent.set([]*dns.DS{oldDS, newDS})
	at2 := at.Add(time.Hour)
	f.clk.set(at2)
	err = f.m.ActivateKSK(ctx, testZone, "next")
	mustCode(t, err, CodeInvalidKeySigningKeyStatus)
	z, zerr := f.m.zone(testZone)
	if zerr != nil {
		t.Fatal(zerr)
	}
	swap := at2.Add(z.rolloverPolicy().DSSwapInterval())
	if !strings.Contains(err.Error(), swap.UTC().Format(time.RFC3339)) {
		t.Errorf("refusal during the DS TTL does not name %s: %v", swap.UTC().Format(time.RFC3339), err)
	}
	if r, _, _ := f.m.Signing(testZone); r != ring {
		t.Fatal("a refused activation swapped the ring")
	}

	// A restart keeps the wait (DSSeen is persisted).
	f = restart(t, f, ZonePolicy{Parents: []string{parent.addr}}, parent.use)
	f.clk.set(swap.Add(-time.Second))
	mustCode(t, f.m.ActivateKSK(ctx, testZone, "next"), CodeInvalidKeySigningKeyStatus)

	// After the parent's propagation time and DS TTL the DNSKEY RRset swaps in one step.
	f.clk.set(swap)
	if err := f.m.ActivateKSK(ctx, testZone, "next"); err != nil {
		t.Fatalf("activate after the DS TTL: %v", err)
	}
	got, _ = f.m.GetDNSSEC(ctx, testZone)
	status := map[string]string{}
	for _, k := range got.KeySigningKeys {
		status[k.Name] = k.Status
	}
	if status["next"] != StatusActive || status["quickstart"] != StatusInactive || got.Status.ServeSignature != StatusSigning {
		t.Fatalf("after the takeover: KSKs %v, zone %s", status, got.Status.ServeSignature)
	}
	r2, _, _ := f.m.Signing(testZone)
	verifyRing(t, r2, swap.Add(24*time.Hour))
	var keys []uint16
	for _, rr := range r2.DNSKEYs() {
		keys = append(keys, rr.(*dns.DNSKEY).KeyTag())
	}
	if len(keys) != 2 || !containsTag(keys, newDS.KeyTag) || containsTag(keys, oldDS.KeyTag) {
		t.Errorf("DNSKEY RRset after the takeover has tags %v, want the new KSK %d and the ZSK", keys, newDS.KeyTag)
	}
	zskAfter := zskTags(r2)
	if len(zskAfter) != 1 || len(zskBefore) != 1 || zskAfter[0] != zskBefore[0] {
		t.Errorf("ZSKs before %v, after %v: the takeover must keep the ZSK", zskBefore, zskAfter)
	}
}

// TestTakeOverNeedsParents: without parent servers Signet cannot see the DS, so it refuses.
func TestTakeOverNeedsParents(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true})
	f.tpm.lost.Store(kskID(t, f, "quickstart"), true)
	f = restart(t, f, ZonePolicy{})
	if err := f.m.CreateKSK(ctx, testZone, "next", StatusInactive); err != nil {
		t.Fatal(err)
	}
	err := f.m.ActivateKSK(ctx, testZone, "next")
	mustCode(t, err, CodeInvalidKeySigningKeyStatus)
	if !strings.Contains(err.Error(), "zones[].parents") {
		t.Errorf("refusal without parents: %v", err)
	}
}

// restart is a new Manager on f's state directory and stores, with the zone added again.
func restart(t *testing.T, f *fixture, p ZonePolicy, opts ...func(*Config)) *fixture {
	t.Helper()
	f2 := newFixture(t, f.dir, f.soft, f.tpm, f.clk, opts...)
	if err := f2.m.AddZone(context.Background(), testZone, p); err != nil {
		t.Fatal(err)
	}
	// The loop's first step, right after a start: it proves the reloaded KSKs.
	f2.m.Step(context.Background(), f.clk.now())
	return f2
}

// kskID returns the keystore ID of the zone's KSK named name.
func kskID(t *testing.T, f *fixture, name string) string {
	t.Helper()
	z, err := f.m.zone(testZone)
	if err != nil {
		t.Fatal(err)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	k, err := z.findKSK(z.st, name)
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

func zskTags(r *signer.KeyRing) []uint16 {
	var out []uint16
	for _, k := range r.Keys() {
		if !k.KSK {
			out = append(out, k.Tag)
		}
	}
	return out
}

func containsTag(tags []uint16, tag uint16) bool {
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}
