package keymgr

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{})
	m := f.m
	if _, _, ok := m.Signing(testZone); ok || m.Signed(testZone) {
		t.Fatal("a new zone is signed")
	}
	mustCode(t, m.Enable(ctx, testZone), CodeKeySigningKeyWithActiveStatusNotFound)
	mustCode(t, m.Disable(ctx, testZone, false), CodeDNSSECNotFound)

	if err := m.CreateKSK(ctx, testZone, "ksk_one", StatusInactive); err != nil {
		t.Fatal(err)
	}
	if got := zskIDs(t, f.soft); len(got) != 1 {
		t.Fatalf("creating the first KSK made %d ZSKs, want 1", len(got))
	}
	if ksks, _ := f.tpm.List(ctx, testZone); len(ksks) != 1 {
		t.Fatalf("the KSK is not in the TPM store: %v", ksks)
	}
	mustCode(t, m.Enable(ctx, testZone), CodeKeySigningKeyWithActiveStatusNotFound)
	if err := m.ActivateKSK(ctx, testZone, "ksk_one"); err != nil {
		t.Fatal(err)
	}
	var flips []string
	m.OnChange(func(z string) { flips = append(flips, z) })
	if err := m.Enable(ctx, testZone); err != nil {
		t.Fatal(err)
	}
	ring, _, ok := m.Signing(testZone)
	if !ok || !m.Signed(testZone) {
		t.Fatal("enabled zone is not signed")
	}
	verifyRing(t, ring, t0)
	if len(flips) != 1 || flips[0] != testZone {
		t.Errorf("OnChange calls %v", flips)
	}
	mustCode(t, m.DeactivateKSK(ctx, testZone, "ksk_one"), CodeKeySigningKeyInUse)
	mustCode(t, m.DeleteKSK(ctx, testZone, "ksk_one"), CodeInvalidKeySigningKeyStatus)

	// A second KSK: published at once, and the CDS points the parent at it (RFC 7344).
	if err := m.CreateKSK(ctx, testZone, "ksk_two", ""); err != nil {
		t.Fatal(err)
	}
	mustCode(t, m.CreateKSK(ctx, testZone, "ksk_three", ""), CodeTooManyKeySigningKeys)
	ring2, _, _ := m.Signing(testZone)
	if ring2 == ring {
		t.Fatal("ring not replaced")
	}
	if n := len(ring2.DNSKEYs()); n != 3 {
		t.Errorf("DNSKEY RRset has %d keys, want 2 KSKs + 1 ZSK", n)
	}
	if n := len(ring2.CDS()); n != 1 {
		t.Errorf("%d CDS records during the KSK rollover, want 1", n)
	}
	verifyRing(t, ring2, t0)
	if err := m.DeactivateKSK(ctx, testZone, "ksk_one"); err != nil {
		t.Fatal(err)
	}
	if err := m.DeleteKSK(ctx, testZone, "ksk_one"); err != nil {
		t.Fatal(err)
	}
	if ksks, _ := f.tpm.List(ctx, testZone); len(ksks) != 1 {
		t.Errorf("deleted KSK still in the keystore: %d keys", len(ksks))
	}
	mustCode(t, m.ActivateKSK(ctx, testZone, "ksk_one"), CodeNoSuchKeySigningKey)

	got, err := m.GetDNSSEC(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.ServeSignature != StatusSigning || len(got.KeySigningKeys) != 1 || got.KeySigningKeys[0].Status != StatusActive {
		t.Fatalf("GetDNSSEC %+v", got)
	}
	if err := m.Disable(ctx, testZone, false); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := m.Signing(testZone); ok || m.Signed(testZone) {
		t.Error("disabled zone still signed")
	}
	if len(flips) != 2 {
		t.Errorf("OnChange calls %v, want 2", flips)
	}
	mustCode(t, m.CreateKSK(ctx, "nosuch.test.", "abc", ""), CodeNoSuchHostedZone)
}

func TestKSKNames(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{})
	for _, tc := range []struct {
		name, code string
	}{
		{"ab", CodeInvalidKeySigningKeyName},
		{string(make([]byte, 129)), CodeInvalidKeySigningKeyName},
		{"has space", CodeInvalidKeySigningKeyName},
		{"abc", ""},
		{"abc", CodeKeySigningKeyAlreadyExists},
		{"x_" + string(repeat('a', 126)), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := f.m.CreateKSK(ctx, testZone, tc.name, StatusInactive)
			if tc.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			mustCode(t, err, tc.code)
		})
	}
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

func TestPersistence(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true})
	ring, _, ok := f.m.Signing(testZone)
	if !ok {
		t.Fatal("quick start did not sign")
	}
	if err := f.m.CreateKSK(ctx, testZone, "second", StatusInactive); err != nil {
		t.Fatal(err)
	}
	// A second manager on the same state directory and keystores: a restart.
	g := newFixture(t, f.dir, f.soft, f.tpm, f.clk)
	if err := g.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
		t.Fatal(err)
	}
	ring2, _, ok := g.m.Signing(testZone)
	if !ok {
		t.Fatal("restarted manager does not sign")
	}
	if a, b := tags(ring.DNSKEYs()), tags(ring2.DNSKEYs()); a != b {
		t.Errorf("DNSKEYs after restart %s, before %s", b, a)
	}
	got, err := g.m.GetDNSSEC(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.KeySigningKeys) != 2 || got.KeySigningKeys[1].Name != "second" || got.KeySigningKeys[1].Status != StatusInactive {
		t.Errorf("KSKs after restart: %+v", got.KeySigningKeys)
	}
	fi, err := os.Stat(filepath.Join(f.dir, "zones", "example.test.json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v", fi.Mode().Perm())
	}
}

func tags(rrs []dns.RR) string {
	s := ""
	for _, rr := range rrs {
		s += " " + rr.(*dns.DNSKEY).String()
	}
	return s
}

func TestCrashSafety(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true})
	zdir := filepath.Join(f.dir, "zones")
	// A crash mid-save leaves a half-written temporary file next to the real one.
	if err := os.WriteFile(filepath.Join(zdir, ".example.test.json.tmp12345"), []byte(`{"version":1,"zone":"exa`), 0o600); err != nil {
		t.Fatal(err)
	}
	g := newFixture(t, f.dir, f.soft, f.tpm, f.clk)
	if err := g.m.AddZone(ctx, testZone, ZonePolicy{}); err != nil {
		t.Fatalf("load with a stray temporary file: %v", err)
	}
	if !g.m.Signed(testZone) {
		t.Error("state lost")
	}
	// Saves write a temporary file and rename it: none is left behind.
	if err := g.m.CreateKSK(ctx, testZone, "another", StatusInactive); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(zdir)
	for _, e := range entries {
		if e.Name() != "example.test.json" && e.Name() != "example.test.premade" && e.Name() != ".example.test.json.tmp12345" && e.Name() != ".lock" {
			t.Errorf("unexpected file %s after save", e.Name())
		}
	}
	// A corrupt state file is an error, not an empty zone.
	if err := os.WriteFile(filepath.Join(zdir, "example.test.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newFixture(t, f.dir, f.soft, f.tpm, f.clk)
	if err := h.m.AddZone(ctx, testZone, ZonePolicy{}); err == nil {
		t.Error("corrupt state loaded")
	}
}

func TestQuickStart(t *testing.T) {
	f := setup(t, ZonePolicy{QuickStart: true})
	got, err := f.m.GetDNSSEC(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.ServeSignature != StatusSigning || len(got.KeySigningKeys) != 1 {
		t.Fatalf("%+v", got)
	}
	k := got.KeySigningKeys[0]
	if k.Name != QuickStartName || k.Status != StatusActive || k.KeyStore != storeTPM || k.Flag != 257 {
		t.Errorf("quick start KSK %+v", k)
	}
	ring, _, _ := f.m.Signing(testZone)
	verifyRing(t, ring, t0.Add(time.Hour))
}
