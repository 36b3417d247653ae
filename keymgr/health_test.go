package keymgr

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/memory"
)

const (
	testCheck = time.Minute
	testRetry = 10 * time.Second
)

func withChecks(c *Config) { c.KSKCheckInterval, c.KSKRetryMin = testCheck, testRetry }

// checkingStore is a flakyStore with the Checker ability, counting its calls: a TPM store.
type checkingStore struct {
	*flakyStore
	checks atomic.Int32
}

func (c *checkingStore) Check(ctx context.Context) error {
	c.checks.Add(1)
	if c.down.Load() {
		return errTPMDown
	}
	return nil
}

// kskStatusOf returns the zone's status and its first KSK's status and message.
func kskStatusOf(t *testing.T, m *Manager) (zone, ksk, msg string) {
	t.Helper()
	got, err := m.GetDNSSEC(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}
	return got.Status.ServeSignature, got.KeySigningKeys[0].Status, got.KeySigningKeys[0].StatusMessage
}

// TestKSKHealthCheck: the TPM stops answering between two daily refreshes. The check finds
// it within one KSKCheckInterval, with the store's Check when it has one, else with a test
// signature; the KSK turns ACTION_NEEDED (metrics too) while the served ring stays. Once the
// TPM answers, the KSK turns ACTIVE by itself within KSKRetryMin and the ring is re-made.
func TestKSKHealthCheck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		withCheck bool
	}{
		{"test signature", false},
		{"store Check", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			flaky := &flakyStore{Store: memory.New()}
			var tpm keystore.Store = flaky
			cs := &checkingStore{flakyStore: flaky}
			if tc.withCheck {
				tpm = cs
			}
			clk := newClock(t0)
			m, err := New(Config{State: fileState(t, t.TempDir()), Soft: memory.New(), TPM: tpm, Now: clk.now,
				KSKCheckInterval: testCheck, KSKRetryMin: testRetry})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
				t.Fatal(err)
			}
			ring, _, _ := m.Signing(testZone)
			if next := m.Step(ctx, t0); !next.Equal(t0.Add(testCheck)) {
				t.Fatalf("next step %s, want the first check at %s", next, t0.Add(testCheck))
			}

			flaky.down.Store(true)
			early := t0.Add(testCheck / 2)
			clk.set(early)
			m.Step(ctx, early)
			if _, s, _ := kskStatusOf(t, m); s != StatusActive {
				t.Fatalf("KSK %s before its check is due, want ACTIVE", s)
			}
			at := t0.Add(testCheck)
			clk.set(at)
			next := m.Step(ctx, at)
			zs, s, msg := kskStatusOf(t, m)
			if zs != StatusActionNeeded || s != StatusActionNeeded {
				t.Fatalf("one check interval into the outage: zone %s, KSK %s, want ACTION_NEEDED", zs, s)
			}
			until := ring.PremadeValidUntil().UTC().Format(time.RFC3339)
			if !strings.Contains(msg, "serving pre-made signatures valid until "+until) {
				t.Errorf("KSK message %q does not say the pre-made signatures last until %s", msg, until)
			}
			if r, _, _ := m.Signing(testZone); r != ring {
				t.Fatal("the health check replaced the served ring")
			}
			if g := healthNow(t, m); g.KSKsNeedingAction != 1 || g.InternalFailure {
				t.Errorf("health during the outage: %+v", g)
			}
			if want := at.Add(testRetry); !next.Equal(want) {
				t.Errorf("next step %s, want a retry at %s", next, want)
			}
			if tc.withCheck && cs.checks.Load() == 0 {
				t.Error("the store's Check was never called")
			}
			verifyRing(t, ring, at.Add(10*24*time.Hour))

			flaky.down.Store(false)
			clk.set(next)
			m.Step(ctx, next)
			if zs, s, msg := kskStatusOf(t, m); zs != StatusSigning || s != StatusActive {
				t.Fatalf("KSKRetryMin after the TPM is back: zone %s, KSK %s (%s)", zs, s, msg)
			}
			r2, _, _ := m.Signing(testZone)
			if r2 == ring {
				t.Fatal("pre-made signatures not re-made after recovery")
			}
			verifyRing(t, r2, next.Add(20*24*time.Hour))
			if g := healthNow(t, m); g.KSKsNeedingAction != 0 || g.MaxNeedingActionAge != 0 {
				t.Errorf("health after recovery: %+v", g)
			}
		})
	}
}

// TestRestartWhileKSKDown: the process restarts while the TPM does not answer. The new one
// serves a ring whose DNSKEY RRSIGs are the pre-made ones the previous process saved, as
// long as they are valid and match the keys; otherwise the zone is unsigned and the status
// says so rather than claiming pre-made signatures. The KSK is ACTION_NEEDED after the
// loop's first step at the latest: at once when the start had to sign (the saved signatures
// were not reusable), at that step's proof when it reused them without asking the KSK.
func TestRestartWhileKSKDown(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		restart time.Duration // after t0
		spoil   func(t *testing.T, path string)
		serves  bool
	}{
		{name: "fresh", restart: time.Hour, serves: true},
		{name: "ten days on", restart: 10 * 24 * time.Hour, serves: true},
		{name: "run out", restart: 25 * 24 * time.Hour},
		{name: "missing", restart: time.Hour, spoil: func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "corrupt", restart: time.Hour, spoil: func(t *testing.T, p string) {
			if err := os.WriteFile(p, []byte("{"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "signatures of other keys", restart: time.Hour, spoil: func(t *testing.T, p string) {
			// Another zone's signatures, renamed: they cannot verify over this DNSKEY RRset.
			o := setup(t, ZonePolicy{QuickStart: true})
			b, err := os.ReadFile(filepath.Join(o.dir, "zones", "example.test.premade"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, ZonePolicy{QuickStart: true})
			path := filepath.Join(f.dir, "zones", "example.test.premade")
			if tc.spoil != nil {
				tc.spoil(t, path)
			}
			f.tpm.down.Store(true)
			at := t0.Add(tc.restart)
			f.clk.set(at)
			g := newFixture(t, f.dir, f.soft, f.tpm, f.clk)
			if err := g.m.AddZone(ctx, testZone, ZonePolicy{}); err != nil {
				t.Fatal(err)
			}
			zs, s, _ := kskStatusOf(t, g.m)
			if tc.name != "fresh" && (zs != StatusActionNeeded || s != StatusActionNeeded) {
				t.Errorf("zone %s, KSK %s at once after a restart without the TPM that could not reuse the saved signatures, want ACTION_NEEDED", zs, s)
			}
			// The loop's first step after the start proves the KSK.
			if next := g.m.Step(ctx, at); tc.name == "fresh" && !next.Equal(at.Add(RetryMin)) {
				t.Errorf("next step %s after the proof, want a retry at %s", next, at.Add(RetryMin))
			}
			zs, s, msg := kskStatusOf(t, g.m)
			if zs != StatusActionNeeded || s != StatusActionNeeded {
				t.Errorf("zone %s, KSK %s after a restart without the TPM and the first step, want ACTION_NEEDED", zs, s)
			}
			ring, _, ok := g.m.Signing(testZone)
			if ok != tc.serves {
				t.Fatalf("signed %v after the restart, want %v (%s)", ok, tc.serves, msg)
			}
			if !tc.serves {
				if !strings.Contains(msg, "served unsigned") || strings.Contains(msg, "valid until") {
					t.Errorf("message %q, want it to say the zone is served unsigned", msg)
				}
				return
			}
			verifyRing(t, ring, at)
			verifyRing(t, ring, at.Add(3*24*time.Hour))
			if !strings.Contains(msg, "serving pre-made signatures valid until") {
				t.Errorf("message %q does not say pre-made signatures are served", msg)
			}
			if exp := healthNow(t, g.m).PremadeExpiry; exp <= 0 {
				t.Errorf("pre-made expiry %v after the restart", exp)
			}

			// The TPM answers again: the retry re-makes the signatures.
			f.tpm.down.Store(false)
			next := g.m.Step(ctx, at)
			f.clk.set(next)
			g.m.Step(ctx, next)
			if zs, s, msg := kskStatusOf(t, g.m); zs != StatusSigning || s != StatusActive {
				t.Fatalf("after the TPM is back: zone %s, KSK %s (%s)", zs, s, msg)
			}
			r2, _, _ := g.m.Signing(testZone)
			if r2 == ring {
				t.Fatal("signatures not re-made after the TPM is back")
			}
			verifyRing(t, r2, next.Add(20*24*time.Hour))
		})
	}
}

// TestZSKRotationDuringKSKOutage: a ZSK rollover falls due while the KSK cannot sign. The
// new ZSK would need new DNSKEY signatures, so the KSK turns ACTION_NEEDED (not the zone
// INTERNAL_FAILURE), no key is left behind, a retry is scheduled and rotation pauses; once
// the KSK signs again the rollover goes ahead.
func TestZSKRotationDuringKSKOutage(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true})
	got, _ := f.m.GetDNSSEC(ctx, testZone)
	due := got.Rollover.NextZSKRollover
	if due.IsZero() {
		t.Fatal("no ZSK rollover planned")
	}
	// The daily refresh just before, so that at the rollover only the planner has work.
	before := due.Add(-time.Hour)
	f.clk.set(before)
	f.m.Step(ctx, before)
	ring, _, _ := f.m.Signing(testZone)
	zsks := zskIDs(t, f.soft)

	f.tpm.down.Store(true)
	f.clk.set(due)
	next := f.m.Step(ctx, due)
	got, _ = f.m.GetDNSSEC(ctx, testZone)
	if got.Status.ServeSignature != StatusActionNeeded || got.KeySigningKeys[0].Status != StatusActionNeeded {
		t.Fatalf("ZSK rollover during a KSK outage: zone %s (%s), KSK %s, want ACTION_NEEDED",
			got.Status.ServeSignature, got.Status.StatusMessage, got.KeySigningKeys[0].Status)
	}
	if !got.Rollover.Paused {
		t.Error("rollovers not paused while the KSK is ACTION_NEEDED")
	}
	if g := healthNow(t, f.m); g.InternalFailure || g.KSKsNeedingAction != 1 {
		t.Errorf("health: %+v", g)
	}
	if want := due.Add(RetryMin); !next.Equal(want) {
		t.Errorf("next step %s, want a retry at %s", next, want)
	}
	if r, _, _ := f.m.Signing(testZone); r != ring {
		t.Error("the served ring changed")
	}
	if now := zskIDs(t, f.soft); len(now) != len(zsks) {
		t.Errorf("%d ZSKs in the keystore during the outage, want %d (the failed rollover's key deleted)", len(now), len(zsks))
	}
	// Retries while the KSK stays down change nothing.
	f.clk.set(next)
	next = f.m.Step(ctx, next)
	if now := zskIDs(t, f.soft); len(now) != len(zsks) {
		t.Errorf("rotation went on during the outage: %d ZSKs", len(now))
	}

	f.tpm.down.Store(false)
	f.clk.set(next)
	f.m.Step(ctx, next)
	got, _ = f.m.GetDNSSEC(ctx, testZone)
	if got.Status.ServeSignature != StatusSigning || got.Rollover.Rolling != keystore.ZSK.String() {
		t.Fatalf("after recovery: zone %s (%s), rolling %q, want the ZSK rollover under way",
			got.Status.ServeSignature, got.Status.StatusMessage, got.Rollover.Rolling)
	}
	if now := zskIDs(t, f.soft); len(now) != len(zsks)+1 {
		t.Errorf("%d ZSKs after recovery, want the new one published", len(now))
	}
	r, _, _ := f.m.Signing(testZone)
	verifyRing(t, r, next)
}

// TestHealthAtReadTime: the ages are those at the time Health is read (the Manager's
// clock, as a metrics scrape reads it), however long ago the loop last ran.
func TestHealthAtReadTime(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true}, withChecks)
	g := healthNow(t, f.m)
	if g.KSKAge != 0 || g.KSKsNeedingAction != 0 {
		t.Fatalf("at creation: %v", g)
	}
	exp0 := g.PremadeExpiry

	f.clk.set(t0.Add(time.Hour)) // no Step
	g = healthNow(t, f.m)
	if got := g.KSKAge; got != time.Hour {
		t.Errorf("KSK age an hour on, without a step: %v, want 1h", got)
	}
	if got := g.PremadeExpiry; got != exp0-time.Hour {
		t.Errorf("pre-made expiry an hour on: %v, want %v", got, exp0-time.Hour)
	}

	f.tpm.down.Store(true)
	fail := t0.Add(time.Hour)
	f.m.Step(ctx, fail)
	if got := healthNow(t, f.m).MaxNeedingActionAge; got != 0 {
		t.Errorf("needing-action age at the failure: %v, want 0", got)
	}
	f.clk.set(fail.Add(10 * time.Minute)) // no Step
	g = healthNow(t, f.m)
	want := ZoneHealth{Zone: testZone, KSKsNeedingAction: 1, MaxNeedingActionAge: 10 * time.Minute,
		KSKAge: time.Hour + 10*time.Minute, PremadeExpiry: exp0 - time.Hour - 10*time.Minute}
	// The rollover counters and due times are checked in TestHealthRolloverActions.
	g.RolloverActions, g.NextZSKRollover, g.NextKSKRollover = nil, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("health 10 minutes into the failure, without a step:\n got %+v\nwant %+v", g, want)
	}
}

// deadTPM is a flakyStore that cannot create keys either while down, as a TPM would not.
type deadTPM struct{ *flakyStore }

func (d deadTPM) Create(ctx context.Context, zone string, role keystore.Role, alg uint8) (keystore.Meta, error) {
	if d.down.Load() {
		return keystore.Meta{}, errTPMDown
	}
	return d.flakyStore.Create(ctx, zone, role, alg)
}

// TestKSKRolloverDuringTPMOutage: an automatic KSK rollover falls due while the TPM does not
// answer, so the new KSK cannot even be created. That is the KSK's outage (ACTION_NEEDED,
// retried), not the zone's INTERNAL_FAILURE; the rollover starts once the TPM is back.
func TestKSKRolloverDuringTPMOutage(t *testing.T) {
	ctx := context.Background()
	tpm := deadTPM{&flakyStore{Store: memory.New()}}
	clk := newClock(t0)
	m, err := New(Config{State: fileState(t, t.TempDir()), Soft: memory.New(), TPM: tpm, Now: clk.now, KSKCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	p := autoPolicy()
	p.Rollover.ZSKLifetime = -1
	if err := m.AddZone(ctx, testZone, p); err != nil {
		t.Fatal(err)
	}
	got, _ := m.GetDNSSEC(ctx, testZone)
	due := got.Rollover.NextKSKRollover
	if due.IsZero() {
		t.Fatal("no KSK rollover planned")
	}
	clk.set(due.Add(-time.Hour))
	m.Step(ctx, due.Add(-time.Hour))

	tpm.down.Store(true)
	clk.set(due)
	next := m.Step(ctx, due)
	got, _ = m.GetDNSSEC(ctx, testZone)
	if got.Status.ServeSignature != StatusActionNeeded || got.KeySigningKeys[0].Status != StatusActionNeeded {
		t.Fatalf("KSK rollover with the TPM down: zone %s (%s), KSK %s, want ACTION_NEEDED",
			got.Status.ServeSignature, got.Status.StatusMessage, got.KeySigningKeys[0].Status)
	}
	if g := healthNow(t, m); g.InternalFailure {
		t.Errorf("internal failure during a KSK outage: %+v", g)
	}
	if want := due.Add(RetryMin); !next.Equal(want) {
		t.Errorf("next step %s, want a retry at %s", next, want)
	}

	tpm.down.Store(false)
	clk.set(next)
	m.Step(ctx, next)
	got, _ = m.GetDNSSEC(ctx, testZone)
	if got.Status.ServeSignature != StatusSigning || got.Rollover.Rolling != keystore.KSK.String() || len(got.KeySigningKeys) != 2 {
		t.Fatalf("TPM back: zone %s (%s), rolling %q, %d KSKs; want the KSK rollover under way",
			got.Status.ServeSignature, got.Status.StatusMessage, got.Rollover.Rolling, len(got.KeySigningKeys))
	}
}
