package keymgr

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/syncbuf"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/file"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/signer"
)

// openingKeys records the keys a keystore was asked to open (Signer): for the file keystore,
// the first request of a key in a process decrypts its file.
type openingKeys struct {
	keystore.Store
	mu     sync.Mutex
	opened []string
}

func (o *openingKeys) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	o.mu.Lock()
	if !slices.Contains(o.opened, id) {
		o.opened = append(o.opened, id)
	}
	o.mu.Unlock()
	return o.Store.Signer(ctx, id)
}

func (o *openingKeys) ids() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := slices.Clone(o.opened)
	slices.Sort(out)
	return out
}

// keyIDs returns the IDs of the zone's active KSKs and ZSKs in m's state.
func keyIDs(t *testing.T, m *Manager, name string) (ksk, zsk string) {
	t.Helper()
	z, err := m.zone(name)
	if err != nil {
		t.Fatal(err)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.st.KSKs) != 1 || len(z.st.ZSKs) != 1 {
		t.Fatalf("zone %s has %d KSKs and %d ZSKs, want one of each", name, len(z.st.KSKs), len(z.st.ZSKs))
	}
	return z.st.KSKs[0].ID, z.st.ZSKs[0].ID
}

// signA signs an A RRset of zone with its served ring at at, as a query with DO would have it
// signed, and checks the signature against the ring's ZSK.
func signA(t *testing.T, m *Manager, zone string, at time.Time) error {
	t.Helper()
	ring, _, ok := m.Signing(zone)
	if !ok {
		t.Fatalf("zone %s is not signed", zone)
	}
	msg := new(dns.Msg)
	msg.SetQuestion("www."+zone, dns.TypeA)
	msg.Answer = []dns.RR{mustRR(t, "www."+zone+" 300 IN A 192.0.2.1")}
	soa := mustRR(t, zone+" 3600 IN SOA ns. host. 1 3600 600 86400 300").(*dns.SOA)
	in := &signer.Input{Zone: zone, Kind: signer.Answer, QName: "www." + zone, QType: dns.TypeA, Name: "www." + zone, SOA: soa, DO: true}
	if err := signer.New(signer.Config{}).Sign(msg, in, ring, at); err != nil {
		return err
	}
	var sig *dns.RRSIG
	for _, rr := range msg.Answer {
		if s, ok := rr.(*dns.RRSIG); ok {
			sig = s
		}
	}
	if sig == nil {
		t.Fatalf("zone %s: no RRSIG in\n%s", zone, msg)
	}
	for _, rr := range ring.DNSKEYs() {
		if k := rr.(*dns.DNSKEY); k.KeyTag() == sig.KeyTag {
			if err := sig.Verify(k, msg.Answer[:1]); err != nil {
				t.Fatalf("zone %s: RRSIG does not verify: %v", zone, err)
			}
			return nil
		}
	}
	t.Fatalf("zone %s: RRSIG by key %d, which the ring does not publish", zone, sig.KeyTag)
	return nil
}

// TestRestartOpensNoKey restarts zones over the file keystore: the start decrypts no key file
// (the rings come from the recorded public keys and the saved pre-made signatures), the
// loop's first step opens each KSK once to prove it signs, and a zone's ZSK is opened by the
// first answer that needs it, that zone's only. A ZSK whose file is corrupt fails that answer
// (SERVFAIL on the server) and turns the zone INTERNAL_FAILURE, logged and counted, at the
// next step; once the file is whole again the zone's retry serves a ring that signs.
func TestRestartOpensNoKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	names := []string{"a.example.test.", "b.example.test.", "c.example.test."}
	clk := newClock(t0)
	open := func(logs *syncbuf.Buffer) (*Manager, *openingKeys) {
		ks, err := file.Open(file.Options{Dir: filepath.Join(dir, "keys"), Passphrase: []byte("lazy"), WorkFactor: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ks.Close() })
		keys := &openingKeys{Store: ks}
		log := slog.New(slog.DiscardHandler)
		if logs != nil {
			log = slog.New(slog.NewTextHandler(logs, nil))
		}
		m, err := New(Config{State: fileState(t, dir), Soft: keys, Now: clk.now, KSKCheckInterval: -1, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		return m, keys
	}
	m, _ := open(nil)
	for _, n := range names {
		if err := m.AddZone(ctx, n, ZonePolicy{QuickStart: true}); err != nil {
			t.Fatal(err)
		}
	}
	ksks, zsks := map[string]string{}, map[string]string{}
	for _, n := range names {
		ksks[n], zsks[n] = keyIDs(t, m, n)
	}
	// The third zone's ZSK file is damaged while the server is down.
	broken := names[2]
	zskFile := filepath.Join(dir, "keys", zsks[broken]+".key.age")
	whole, err := os.ReadFile(zskFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zskFile, []byte("age-encryption.org/v1\n-> X25519 garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	at := t0.Add(time.Hour)
	clk.set(at)

	// A fail-fast start (OpenKeys) opens every key, and the broken zone does not start.
	strict, strictKeys := open(nil)
	for _, n := range names {
		err := strict.AddZone(ctx, n, ZonePolicy{QuickStart: true, OpenKeys: true})
		var ze *ZoneError
		if n == broken && !errors.As(err, &ze) {
			t.Fatalf("fail-fast start of %s with its ZSK corrupt: %v, want a *ZoneError", n, err)
		}
		if n != broken && err != nil {
			t.Fatalf("fail-fast start of %s: %v", n, err)
		}
	}
	for _, n := range names {
		if !slices.Contains(strictKeys.ids(), zsks[n]) {
			t.Errorf("the fail-fast start did not open %s's ZSK", n)
		}
	}

	logs := &syncbuf.Buffer{}
	m2, keys := open(logs)
	type note struct {
		zone string
		err  error
	}
	var notesMu sync.Mutex
	var notes []note
	m2.OnKeyFailure(func(zone string, err error) {
		notesMu.Lock()
		defer notesMu.Unlock()
		notes = append(notes, note{zone, err})
	})
	takeNotes := func() []note {
		notesMu.Lock()
		defer notesMu.Unlock()
		out := notes
		notes = nil
		return out
	}
	for _, n := range names {
		if err := m2.AddZone(ctx, n, ZonePolicy{QuickStart: true}); err != nil {
			t.Fatal(err)
		}
		if _, _, ok := m2.Signing(n); !ok {
			t.Fatalf("zone %s not signed after the restart", n)
		}
	}
	if got := keys.ids(); len(got) != 0 {
		t.Fatalf("the restart opened keys %v, want none", got)
	}

	// The loop's first step proves the KSKs: each is opened, no ZSK is.
	m2.Step(ctx, at)
	want := slices.Sorted(func(yield func(string) bool) {
		for _, id := range ksks {
			if !yield(id) {
				return
			}
		}
	})
	if got := keys.ids(); !slices.Equal(got, want) {
		t.Fatalf("after the first step opened %v, want the KSKs %v", got, want)
	}
	for _, n := range names {
		got, err := m2.GetDNSSEC(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.ServeSignature != StatusSigning || got.KeySigningKeys[0].Status != StatusActive {
			t.Fatalf("zone %s after the proof: %s, KSK %s", n, got.Status.ServeSignature, got.KeySigningKeys[0].Status)
		}
	}

	// An answer of the first zone opens its ZSK and no other.
	if err := signA(t, m2, names[0], at); err != nil {
		t.Fatalf("sign an answer of %s: %v", names[0], err)
	}
	opened := keys.ids()
	if !slices.Contains(opened, zsks[names[0]]) || slices.Contains(opened, zsks[names[1]]) || slices.Contains(opened, zsks[broken]) {
		t.Fatalf("after an answer of %s opened %v; its ZSK is %s", names[0], opened, zsks[names[0]])
	}

	// The broken zone's first answer that needs its ZSK fails, and the zone says why.
	err = signA(t, m2, broken, at)
	if err == nil || !strings.Contains(err.Error(), zsks[broken]) {
		t.Fatalf("signing with the corrupt ZSK: %v, want an error naming the key", err)
	}
	if next := m2.Step(ctx, at); !next.Equal(at.Add(RetryMin)) {
		t.Errorf("next step %s after the ZSK failed, want the retry at %s", next, at.Add(RetryMin))
	}
	got, err := m2.GetDNSSEC(ctx, broken)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.ServeSignature != StatusInternalFailure || !strings.Contains(got.Status.StatusMessage, zsks[broken]) {
		t.Fatalf("zone with a corrupt ZSK: %s (%s), want INTERNAL_FAILURE naming the ZSK", got.Status.ServeSignature, got.Status.StatusMessage)
	}
	failing := map[string]bool{}
	for _, h := range m2.Health(at) {
		failing[h.Zone] = h.InternalFailure
	}
	if !failing[broken] || failing[names[0]] || failing[names[1]] {
		t.Errorf("internal failures %v, want %s alone", failing, broken)
	}
	if l := logs.String(); !strings.Contains(l, "ZSK cannot be opened") || !strings.Contains(l, zsks[broken]) {
		t.Errorf("log does not report the ZSK:\n%s", l)
	}
	var ze *ZoneError
	if got := takeNotes(); len(got) != 1 || got[0].zone != broken || !errors.As(got[0].err, &ze) || !strings.Contains(ze.Error(), zsks[broken]) {
		t.Errorf("OnKeyFailure told %v, want %s's ZSK failure once", got, broken)
	}
	// Answers keep failing (the server turns them into SERVFAIL), never unsigned.
	if err := signA(t, m2, broken, at); err == nil {
		t.Fatal("an answer signed with the corrupt ZSK")
	}

	// The retry asks the store again: still corrupt, the zone stays INTERNAL_FAILURE.
	retry := at.Add(RetryMin)
	clk.set(retry)
	m2.Step(ctx, retry)
	if got, _ := m2.GetDNSSEC(ctx, broken); got.Status.ServeSignature != StatusInternalFailure {
		t.Fatalf("retry with the ZSK still corrupt: %s", got.Status.ServeSignature)
	}
	if err := m2.Reopen(ctx, broken); !errors.As(err, &ze) {
		t.Fatalf("Reopen with the ZSK still corrupt: %v, want a *ZoneError", err)
	}
	if got := takeNotes(); len(got) != 0 {
		t.Errorf("OnKeyFailure told %v again while the failure lasts", got)
	}
	// Repaired, the next retry serves a ring that signs.
	if err := os.WriteFile(zskFile, whole, 0o600); err != nil {
		t.Fatal(err)
	}
	retry = m2.Step(ctx, retry) // the zone's next retry, backed off
	clk.set(retry)
	m2.Step(ctx, retry)
	if got, _ := m2.GetDNSSEC(ctx, broken); got.Status.ServeSignature != StatusSigning {
		t.Fatalf("after the ZSK file is repaired: %s (%s)", got.Status.ServeSignature, got.Status.StatusMessage)
	}
	if err := signA(t, m2, broken, retry); err != nil {
		t.Fatalf("sign an answer after the repair: %v", err)
	}
	if got := takeNotes(); len(got) != 1 || got[0].zone != broken || got[0].err != nil {
		t.Errorf("OnKeyFailure told %v after the repair, want %s with no error", got, broken)
	}
}

// TestReopen: a zone whose ZSK could not be opened is served again at once by Reopen once
// the key is whole, without waiting for its retry.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := newClock(t0)
	open := func() *Manager {
		ks, err := file.Open(file.Options{Dir: filepath.Join(dir, "keys"), Passphrase: []byte("lazy"), WorkFactor: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ks.Close() })
		m, err := New(Config{State: fileState(t, dir), Soft: ks, Now: clk.now, KSKCheckInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := open()
	_, zsk := keyIDs(t, m, testZone)
	zskFile := filepath.Join(dir, "keys", zsk+".key.age")
	whole, err := os.ReadFile(zskFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zskFile, []byte("damaged"), 0o600); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Hour)
	clk.set(at)
	m2 := open()
	if err := m2.Reopen(ctx, testZone); err != nil {
		t.Fatalf("Reopen of a zone whose keys did not fail: %v", err)
	}
	if err := signA(t, m2, testZone, at); err == nil {
		t.Fatal("signed with a damaged ZSK")
	}
	m2.Step(ctx, at)
	if err := os.WriteFile(zskFile, whole, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m2.Reopen(ctx, testZone); err != nil {
		t.Fatalf("Reopen after the repair: %v", err)
	}
	if got, _ := m2.GetDNSSEC(ctx, testZone); got.Status.ServeSignature != StatusSigning {
		t.Fatalf("after Reopen: %s (%s)", got.Status.ServeSignature, got.Status.StatusMessage)
	}
	if err := signA(t, m2, testZone, at); err != nil {
		t.Fatalf("sign after Reopen: %v", err)
	}
	mustCode(t, m2.Reopen(ctx, "nope.test."), CodeNoSuchHostedZone)
}

// TestRestartProvesKSKsInBackground restarts zones whose KSK's TPM does not answer: the start
// serves each from its saved pre-made signatures without asking the TPM, and the running
// loop finds every KSK that cannot sign within seconds (ACTION_NEEDED), the zones still
// served with those signatures.
func TestRestartProvesKSKsInBackground(t *testing.T) {
	ctx := context.Background()
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("z%02d.example.test.", i)
	}
	f := newFixture(t, t.TempDir(), memory.New(), &flakyStore{Store: memory.New()}, newClock(t0))
	for _, n := range names {
		if err := f.m.AddZone(ctx, n, ZonePolicy{QuickStart: true}); err != nil {
			t.Fatal(err)
		}
	}
	f.tpm.down.Store(true)
	at := t0.Add(time.Hour)
	f.clk.set(at)
	g := newFixture(t, f.dir, f.soft, f.tpm, f.clk)
	for _, n := range names {
		if err := g.m.AddZone(ctx, n, ZonePolicy{}); err != nil {
			t.Fatal(err)
		}
	}
	rings := map[string]*signer.KeyRing{}
	for _, n := range names {
		ring, _, ok := g.m.Signing(n)
		if !ok {
			t.Fatalf("zone %s not served after the restart", n)
		}
		rings[n] = ring
	}

	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); g.m.Run(rctx) }()
	defer func() { cancel(); <-done }()
	limit := time.Now().Add(5 * time.Second)
	for _, n := range names {
		for {
			got, err := g.m.GetDNSSEC(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			if got.KeySigningKeys[0].Status == StatusActionNeeded && got.Status.ServeSignature == StatusActionNeeded {
				break
			}
			if time.Now().After(limit) {
				t.Fatalf("zone %s: KSK %s 5 s after the start without the TPM, want ACTION_NEEDED", n, got.KeySigningKeys[0].Status)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if ring, _, _ := g.m.Signing(n); ring != rings[n] {
			t.Fatalf("zone %s: the served ring changed when its KSK was found failing", n)
		}
		verifyPremadeAt(t, rings[n], n, at)
	}
}

// verifyPremadeAt checks that ring serves, at at, a pre-made DNSKEY signature that verifies.
func verifyPremadeAt(t *testing.T, ring *signer.KeyRing, zone string, at time.Time) {
	t.Helper()
	var ksk *dns.DNSKEY
	for _, rr := range ring.DNSKEYs() {
		if k := rr.(*dns.DNSKEY); k.Flags&dns.SEP != 0 {
			ksk = k
		}
	}
	for _, sig := range ring.Premade() {
		if sig.TypeCovered == dns.TypeDNSKEY && sig.ValidityPeriod(at) && sig.Verify(ksk, ring.DNSKEYs()) == nil {
			return
		}
	}
	t.Fatalf("zone %s: no pre-made DNSKEY signature valid at %s", zone, at)
}

// TestProofStopsWithTheLoop: a server stopping cancels the loop's context and then closes its
// keystores; a proof that fails meanwhile is no failure of the KSK, and leaves no
// ACTION_NEEDED in the saved state. The next start proves the KSK again.
func TestProofStopsWithTheLoop(t *testing.T) {
	f := setup(t, ZonePolicy{QuickStart: true})
	at := t0.Add(time.Hour)
	f.clk.set(at)
	g := restartOnly(t, f)
	f.tpm.down.Store(true) // the store answers no more: closed
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	g.m.Step(stopped, at)
	// A proof under way when the stop comes.
	z, _ := g.m.lookup(testZone)
	z.mu.Lock()
	g.m.prove(stopped, z, at)
	z.mu.Unlock()
	if zs, s, _ := kskStatusOf(t, g.m); zs != StatusSigning || s != StatusActive {
		t.Fatalf("zone %s, KSK %s after a proof cut short by the stop, want SIGNING and ACTIVE", zs, s)
	}
	h := restartOnly(t, f)
	if zs, s, _ := kskStatusOf(t, h.m); zs != StatusSigning || s != StatusActive {
		t.Fatalf("next start: zone %s, KSK %s, want SIGNING and ACTIVE", zs, s)
	}
	h.m.Step(context.Background(), at)
	if zs, s, _ := kskStatusOf(t, h.m); zs != StatusActionNeeded || s != StatusActionNeeded {
		t.Fatalf("next start's proof with the store down: zone %s, KSK %s, want ACTION_NEEDED", zs, s)
	}
}

// restartOnly starts f's zone in a new Manager over the same stores, without the loop's step.
func restartOnly(t *testing.T, f *fixture) *fixture {
	t.Helper()
	g := newFixture(t, f.dir, f.soft, f.tpm, f.clk)
	if err := g.m.AddZone(context.Background(), testZone, ZonePolicy{}); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestLazySignerOpensOnce: concurrent first signatures open the key once; a key that cannot be
// opened is not asked of its store again for openRetry (its signatures fail at once), then is;
// a key that is not the recorded one is refused.
func TestLazySignerOpensOnce(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	meta, err := store.Create(ctx, testZone, keystore.ZSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	key, err := store.Signer(ctx, meta.ID)
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock(t0)
	var mu sync.Mutex
	opens, failing := 0, false
	var failures []error
	l := &lazySigner{id: meta.ID, role: keystore.ZSK, pub: key.Public(), now: clk.now,
		open: func(ctx context.Context) (crypto.Signer, error) {
			mu.Lock()
			defer mu.Unlock()
			opens++
			if failing {
				return nil, errors.New("keystore: decrypt: corrupted")
			}
			return store.Signer(ctx, meta.ID)
		},
		fails: func(id string, err error) { failures = append(failures, err) },
	}
	digest := make([]byte, 32)
	failing = true
	for range 3 {
		if _, err := l.Sign(rand.Reader, digest, crypto.SHA256); err == nil || !strings.Contains(err.Error(), meta.ID) {
			t.Fatalf("signature with a key that cannot be opened: %v, want an error naming it", err)
		}
	}
	if opens != 1 || len(failures) != 1 {
		t.Fatalf("%d openings and %d failures reported within openRetry, want 1 and 1", opens, len(failures))
	}
	failing = false
	clk.set(t0.Add(openRetry))
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() { _, errs[i] = l.Sign(rand.Reader, digest, crypto.SHA256) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("signature once the key opens: %v", err)
		}
	}
	if opens != 2 {
		t.Errorf("%d openings, want 2 (one failed, one for 16 concurrent signatures)", opens)
	}

	other, err := store.Create(ctx, testZone, keystore.ZSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	wrong := &lazySigner{id: other.ID, role: keystore.ZSK, pub: key.Public(), now: clk.now,
		open: func(ctx context.Context) (crypto.Signer, error) { return store.Signer(ctx, other.ID) }}
	if _, err := wrong.Sign(rand.Reader, digest, crypto.SHA256); err == nil || !strings.Contains(err.Error(), "not the one") {
		t.Errorf("signature with another key than the recorded one: %v, want refused", err)
	}
}
