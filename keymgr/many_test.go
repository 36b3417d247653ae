package keymgr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/file"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/statestore"
)

// countingState counts the writes to a state store.
type countingState struct {
	statestore.Store
	writes atomic.Int64
}

func (c *countingState) Save(ctx context.Context, zone string, doc statestore.Doc, b []byte, prev statestore.Revision) (statestore.Revision, error) {
	c.writes.Add(1)
	return c.Store.Save(ctx, zone, doc, b, prev)
}

func (c *countingState) Delete(ctx context.Context, zone string, doc statestore.Doc, prev statestore.Revision) error {
	c.writes.Add(1)
	return c.Store.Delete(ctx, zone, doc, prev)
}

// countingKeys counts the keys created in and deleted from a keystore.
type countingKeys struct {
	keystore.Store
	writes atomic.Int64
}

func (c *countingKeys) Create(ctx context.Context, zone string, role keystore.Role, alg uint8) (keystore.Meta, error) {
	c.writes.Add(1)
	return c.Store.Create(ctx, zone, role, alg)
}

func (c *countingKeys) Delete(ctx context.Context, id string) error {
	c.writes.Add(1)
	return c.Store.Delete(ctx, id)
}

// TestManyZonesConcurrently starts 200 zones from 16 goroutines at once over the file keystore
// and state store, as a server starting many zones does: every zone gets its own KSK and ZSK
// and a ring that signs; then a new process (new stores over the same directories) starts
// them again the same way and reuses every saved state without a single write.
func TestManyZonesConcurrently(t *testing.T) {
	const n, workers = 200, 16
	dir := t.TempDir()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("z%03d.example.test.", i)
	}
	clk := newClock(t0)
	open := func() (*Manager, *countingState, *countingKeys) {
		ks, err := file.Open(file.Options{Dir: filepath.Join(dir, "keys"), Passphrase: []byte("many zones"), WorkFactor: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ks.Close() })
		state := &countingState{Store: fileState(t, dir)}
		keys := &countingKeys{Store: ks}
		m, err := New(Config{State: state, Soft: keys, Now: clk.now, KSKCheckInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		return m, state, keys
	}
	start := func(m *Manager) {
		t.Helper()
		for i, err := range addZones(m, names, workers) {
			if err != nil {
				t.Fatalf("zone %s: %v", names[i], err)
			}
		}
	}
	check := func(m *Manager, at time.Time) map[string]uint16 {
		t.Helper()
		tags := map[string]uint16{}
		seen := map[uint16]int{}
		for _, name := range names {
			ring, _, ok := m.Signing(name)
			if !ok {
				t.Fatalf("zone %s not signed", name)
			}
			if ring.Zone() != name {
				t.Fatalf("zone %s has the ring of %s", name, ring.Zone())
			}
			keys := ring.Keys()
			if len(keys) != 2 || keys[0].KSK == keys[1].KSK {
				t.Fatalf("zone %s: ring of %d keys, want a KSK and a ZSK", name, len(keys))
			}
			var ksk *dns.DNSKEY
			for _, k := range keys {
				if k.KSK {
					ksk = k.DNSKEY
					tags[name] = k.Tag
				}
				seen[k.Tag]++
			}
			// Every pre-made signature verifies over this zone's own DNSKEY RRset.
			for _, sig := range ring.Premade() {
				if err := sig.Verify(ksk, ring.DNSKEYs()); err != nil {
					t.Fatalf("zone %s: pre-made signature: %v", name, err)
				}
				if !sig.ValidityPeriod(at) && sig.Inception <= uint32(at.Unix()) {
					t.Fatalf("zone %s: pre-made signature expired at %s", name, at)
				}
			}
			if len(ring.Premade()) != PremadeCount {
				t.Fatalf("zone %s: %d pre-made signatures, want %d", name, len(ring.Premade()), PremadeCount)
			}
		}
		// 400 keys: the same tag twice is possible but a zone sharing another's key is not;
		// a tag seen many times would mean keys handed to the wrong zones.
		for tag, c := range seen {
			if c > 3 {
				t.Fatalf("key tag %d in %d rings", tag, c)
			}
		}
		return tags
	}

	m, state, keys := open()
	start(m)
	first := check(m, t0)
	if w, k := state.writes.Load(), keys.writes.Load(); w < 2*n || k != 2*n {
		t.Fatalf("first start: %d state writes, %d keys created, want at least %d and %d", w, k, 2*n, 2*n)
	}
	zdir, kdir := filepath.Join(dir, "zones"), filepath.Join(dir, "keys")
	zbefore, kbefore := readDir(t, zdir), readDir(t, kdir)
	if len(kbefore) != 4*n+1 {
		t.Fatalf("key directory holds %d files, want %d (two per key and kek.age)", len(kbefore), 4*n+1)
	}

	at := t0.Add(time.Hour)
	clk.set(at)
	m2, state2, keys2 := open()
	start(m2)
	again := check(m2, at)
	if w, k := state2.writes.Load(), keys2.writes.Load(); w != 0 || k != 0 {
		t.Errorf("restart: %d state writes and %d key writes, want none", w, k)
	}
	for name, tag := range first {
		if again[name] != tag {
			t.Errorf("zone %s: KSK %d after the restart, %d before", name, again[name], tag)
		}
	}
	for d, before := range map[string]map[string][]byte{zdir: zbefore, kdir: kbefore} {
		after := readDir(t, d)
		if len(after) != len(before) {
			t.Errorf("%s: %d files after the restart, %d before", d, len(after), len(before))
		}
		for name, b := range before {
			if string(after[name]) != string(b) {
				t.Errorf("%s changed at the restart", filepath.Join(d, name))
			}
		}
	}
}

// TestAddZoneTwiceConcurrently: of concurrent adds of one zone, exactly one succeeds.
func TestAddZoneTwiceConcurrently(t *testing.T) {
	f := newFixture(t, t.TempDir(), memory.New(), &flakyStore{Store: memory.New()}, newClock(t0))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if f.m.AddZone(context.Background(), testZone, ZonePolicy{QuickStart: true}) == nil {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d concurrent adds of one zone succeeded, want 1", ok.Load())
	}
	if _, _, signed := f.m.Signing(testZone); !signed {
		t.Error("the zone is not signed")
	}
}

// crashChild is set, in the environment of a child test process, to the state directory it
// starts the zones of crashZones in (and the time, in hours after t0, of its clock); the
// parent kills it with SIGKILL at some point of the start.
const crashChild = "KEYMGR_CRASH_CHILD"

const crashZones = 120

func crashNames() []string {
	names := make([]string, crashZones)
	for i := range names {
		names[i] = fmt.Sprintf("c%03d.example.test.", i)
	}
	return names
}

// startAll starts names in a new Manager over dir's file stores at now, 16 at a time.
func startAll(t *testing.T, dir string, names []string, now time.Time, opts ...func(*Config)) (*Manager, error) {
	ks, err := file.Open(file.Options{Dir: filepath.Join(dir, "keys"), Passphrase: []byte("crash"), WorkFactor: 10})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { ks.Close() })
	cfg := Config{State: fileState(t, dir), Soft: ks, Now: func() time.Time { return now }, KSKCheckInterval: -1}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return m, errors.Join(addZones(m, names, 16)...)
}

// addZones adds names to m (quick start) from workers goroutines at once, as serve's start
// does, and returns each zone's error.
func addZones(m *Manager, names []string, workers int) []error {
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				errs[i] = m.AddZone(context.Background(), names[i], ZonePolicy{QuickStart: true})
			}
		})
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// TestCrashChild is the child of TestCrashDuringStart; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	args := strings.Split(os.Getenv(crashChild), "|")
	if len(args) != 3 {
		return
	}
	dir := args[0]
	h, err := strconv.Atoi(args[1])
	if err != nil {
		t.Fatal(err)
	}
	var opts []func(*Config)
	if args[2] == "defer" {
		opts = append(opts, deferPremade)
	}
	if _, err := startAll(t, dir, crashNames(), t0.Add(time.Duration(h)*time.Hour), opts...); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "done"), nil, 0o600)
	time.Sleep(time.Minute) // the parent kills it
}

// TestCrashDuringStart kills (SIGKILL) a process while it starts many zones at once, a
// quarter and half way through: during the first start (keys created, states and pre-made
// signatures written with shared directory fsyncs) and during a start a day later that
// rewrites every zone's pre-made signatures. After each crash every document in the state
// directory is whole (the previous one or the new one, never part of one), every key the
// keystore lists has its key file, and a new process starts every zone, signed.
func TestCrashDuringStart(t *testing.T) {
	names := crashNames()
	// progress counts the zones with a state document, and those whose pre-made signature
	// document was rewritten since since.
	progress := func(dir string, since time.Time) (states, rewritten int) {
		ents, _ := os.ReadDir(filepath.Join(dir, "zones"))
		for _, e := range ents {
			name := e.Name()
			switch {
			case strings.HasPrefix(name, "."):
			case strings.HasSuffix(name, ".json"):
				states++
			case strings.HasSuffix(name, ".premade"):
				if fi, err := e.Info(); err == nil && fi.ModTime().After(since) {
					rewritten++
				}
			}
		}
		return states, rewritten
	}
	// run starts the child with its clock hours after t0 (with Config.DeferPremade when
	// deferred) and kills it once reached says so.
	run := func(t *testing.T, dir string, hours int, deferred bool, reached func() bool) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		mode := "now"
		if deferred {
			mode = "defer"
		}
		cmd.Env = append(os.Environ(), crashChild+"="+dir+"|"+strconv.Itoa(hours)+"|"+mode)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		deadline := time.After(time.Minute)
	wait:
		for !reached() {
			select {
			case err := <-done:
				t.Fatalf("the child ended before it was killed: %v", err)
			case <-deadline:
				break wait
			case <-time.After(2 * time.Millisecond):
			}
		}
		cmd.Process.Kill()
		<-done
		if _, err := os.Stat(filepath.Join(dir, "done")); err == nil {
			t.Fatal("the child had started every zone when killed: the test proves nothing")
		}
	}
	check := func(t *testing.T, dir string, now time.Time) {
		t.Helper()
		for name, b := range readDir(t, filepath.Join(dir, "zones")) {
			zone := strings.TrimSuffix(strings.TrimSuffix(name, ".json"), ".premade") + "."
			switch {
			case strings.HasPrefix(name, "."):
			case strings.HasSuffix(name, ".json"):
				if _, err := decodeState(zone, b); err != nil {
					t.Errorf("%s after the crash: %v", name, err)
				}
			case strings.HasSuffix(name, ".premade"):
				if _, err := decodePremade(zone, b); err != nil {
					t.Errorf("%s after the crash: %v", name, err)
				}
			}
		}
		keys := readDir(t, filepath.Join(dir, "keys"))
		for name := range keys {
			if id, ok := strings.CutSuffix(name, ".json"); ok && !strings.HasPrefix(name, ".") {
				if _, ok := keys[id+".key.age"]; !ok {
					t.Errorf("key %s listed without its key file after the crash", id)
				}
			}
		}
		m, err := startAll(t, dir, names, now)
		if err != nil {
			t.Fatalf("start after the crash: %v", err)
		}
		for _, name := range names {
			ring, _, ok := m.Signing(name)
			if !ok {
				t.Fatalf("zone %s not signed after the crash", name)
			}
			verifyPremade(t, ring)
		}
	}
	for _, part := range []int{4, 2} {
		// With the pre-made signatures deferred (Config.DeferPremade), a start saves states
		// alone.
		for _, deferred := range []bool{false, true} {
			t.Run(fmt.Sprintf("first start, deferred %v, killed at 1/%d", deferred, part), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				run(t, dir, 0, deferred, func() bool { n, _ := progress(dir, t0); return n >= len(names)/part })
				states, _ := progress(dir, t0)
				t.Logf("killed with %d of %d zones' states written", states, len(names))
				check(t, dir, t0.Add(time.Hour))
			})
		}
		t.Run(fmt.Sprintf("refresh, killed at 1/%d", part), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if _, err := startAll(t, dir, names, t0); err != nil {
				t.Fatal(err)
			}
			since := time.Now()
			run(t, dir, 25, false, func() bool { _, n := progress(dir, since); return n >= len(names)/part })
			_, fresh := progress(dir, since)
			t.Logf("killed with %d of %d zones' pre-made signatures rewritten", fresh, len(names))
			check(t, dir, t0.Add(26*time.Hour))
		})
	}
}

// verifyPremade checks that every pre-made signature of ring verifies over its RRset.
func verifyPremade(t *testing.T, ring *signer.KeyRing) {
	t.Helper()
	for _, sig := range ring.Premade() {
		var ksk *dns.DNSKEY
		for _, k := range ring.Keys() {
			if k.KSK && k.Tag == sig.KeyTag {
				ksk = k.DNSKEY
			}
		}
		if ksk == nil {
			t.Fatalf("zone %s: pre-made signature by %d, not a KSK of the ring", ring.Zone(), sig.KeyTag)
		}
		if err := sig.Verify(ksk, ring.RRset(sig.TypeCovered)); err != nil {
			t.Fatalf("zone %s: pre-made signature: %v", ring.Zone(), err)
		}
	}
}
