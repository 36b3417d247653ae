package keymgr

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/statestore"
)

// dnskeys returns the zone's served DNSKEY RRset in presentation form, sorted.
func dnskeys(t *testing.T, m *Manager) string {
	t.Helper()
	ring, _, ok := m.Signing(testZone)
	if !ok {
		t.Fatal("zone not signed")
	}
	var out []string
	for _, rr := range ring.DNSKEYs() {
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestFollowerServesLeaderRing: a leader and a follower share the state directory and the ZSK
// keystore, as cluster instances share etcd; the KSK is in the leader's own TPM only. Over 70
// days of ZSK rollovers the follower, synced after each of the leader's steps, serves the
// leader's DNSKEY RRset with the leader's pre-made KSK signatures and its own ZSK signatures,
// all verifying; it refuses operations, naming the leader. Then the leader dies and an
// instance holding the KSK takes over from the shared state: the rollovers go on, and a write
// of the dead leader's (a stale revision) fails.
func TestFollowerServesLeaderRing(t *testing.T) {
	ctx := context.Background()
	p := ZonePolicy{QuickStart: true, MaxZoneTTL: func() time.Duration { return 2 * time.Hour }}
	lead := setup(t, p)
	follower := newFixture(t, lead.dir, lead.soft, &flakyStore{Store: memory.New()}, lead.clk)
	follower.m.Follow("leader-1")
	if err := follower.m.AddZone(ctx, testZone, p); err != nil {
		t.Fatal(err)
	}
	if ksks, _ := follower.tpm.List(ctx, ""); len(ksks) != 0 {
		t.Fatal("the follower created a KSK")
	}
	err := follower.m.CreateKSK(ctx, testZone, "nope", StatusInactive)
	mustCode(t, err, CodeServiceUnavailable)
	if !strings.Contains(err.Error(), "leader-1") {
		t.Errorf("refusal %q does not name the leader", err)
	}

	zsks := map[string]bool{}
	now := t0
	for steps := 0; now.Before(t0.Add(70 * 24 * time.Hour)); steps++ {
		if steps > 1000 {
			t.Fatal("loop does not advance")
		}
		lead.clk.set(now)
		next := lead.m.Step(ctx, now)
		if err := follower.m.Sync(ctx, testZone); err != nil {
			t.Fatal(err)
		}
		if a, b := dnskeys(t, lead.m), dnskeys(t, follower.m); a != b {
			t.Fatalf("at %s the follower serves\n%s\nthe leader\n%s", now, b, a)
		}
		ring, _, _ := follower.m.Signing(testZone)
		verifyRing(t, ring, now)
		ls, lp, _ := lead.m.Revision(testZone)
		fs, fp, _ := follower.m.Revision(testZone)
		if ls != fs || lp != fp {
			t.Fatalf("at %s the follower serves revisions %d/%d, the leader %d/%d", now, fs, fp, ls, lp)
		}
		for id := range zskIDs(t, lead.soft) {
			zsks[id] = true
		}
		now = next
	}
	if len(zsks) < 3 {
		t.Fatalf("%d ZSKs over 70 days, want the rollovers of days 30 and 60", len(zsks))
	}

	// Failover: the new leader holds the KSK (the same TPM store), syncs and leads.
	heir := newFixture(t, lead.dir, lead.soft, lead.tpm, lead.clk)
	heir.m.Follow("leader-1")
	if err := heir.m.AddZone(ctx, testZone, p); err != nil {
		t.Fatal(err)
	}
	if err := heir.m.Lead(ctx); err != nil {
		t.Fatal(err)
	}
	before := dnskeys(t, lead.m)
	for end := now.Add(40 * 24 * time.Hour); now.Before(end); {
		heir.clk.set(now)
		now = heir.m.Step(ctx, now)
	}
	if dnskeys(t, heir.m) == before {
		t.Error("the new leader did not roll the ZSK in 40 days")
	}
	ring, _, _ := heir.m.Signing(testZone)
	verifyRing(t, ring, now)
	// The old leader, back from a pause, tries to write over the state it last saw.
	z, _ := lead.m.zone(testZone)
	z.mu.Lock()
	err = lead.m.saveState(ctx, z, z.st.clone())
	z.mu.Unlock()
	if !errors.Is(err, statestore.ErrConflict) {
		t.Fatalf("the old leader's save over a newer state: %v, want ErrConflict", err)
	}
	if _, ok := follower.m.Following(); !ok {
		t.Error("Following() false for a follower")
	}
}
