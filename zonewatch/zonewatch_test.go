package zonewatch

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu   sync.Mutex
	got  []string
	call chan string
}

func (r *recorder) reload(origin string) error {
	r.mu.Lock()
	r.got = append(r.got, origin)
	r.mu.Unlock()
	r.call <- origin
	return nil
}

// debounce is long enough that a burst of back-to-back writes falls inside it even on a
// loaded machine.
const debounce = 300 * time.Millisecond

func start(t *testing.T, zones []Zone) *recorder {
	t.Helper()
	r := &recorder{call: make(chan string, 100)}
	w, err := New(zones, r.reload, Options{Debounce: debounce})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func (r *recorder) expect(t *testing.T, origin string) {
	t.Helper()
	select {
	case got := <-r.call:
		if got != origin {
			t.Fatalf("reloaded %s, want %s", got, origin)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s not reloaded", origin)
	}
}

func (r *recorder) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case got := <-r.call:
		t.Fatalf("unexpected reload of %s", got)
	case <-time.After(d):
	}
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatch: an in-place write, a burst of writes (one reload), a rename over the file
// (atomic replacement), a symlink switched to a new target, and a file that disappears
// each do what an operator expects; a file beside the zone changing does nothing.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.zone"), filepath.Join(dir, "b.zone")
	write(t, a, "1")
	write(t, b, "1")
	// b.zone is a symlink to a versioned file, the way deploy tools switch versions.
	bv1 := filepath.Join(dir, "b.v1")
	write(t, bv1, "v1")
	os.Remove(b)
	if err := os.Symlink(bv1, b); err != nil {
		t.Fatal(err)
	}
	r := start(t, []Zone{{"a.test.", a}, {"b.test.", b}})

	write(t, a, "22")
	r.expect(t, "a.test.")

	for i := range 5 { // a file written in several steps is read once
		write(t, a, string(rune('a'+i))+"333")
	}
	r.expect(t, "a.test.")
	r.quiet(t, 2*debounce)

	tmp := filepath.Join(dir, ".a.zone.tmp")
	write(t, tmp, "4444")
	if err := os.Rename(tmp, a); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "a.test.")

	bv2 := filepath.Join(dir, "b.v2")
	write(t, bv2, "v2")
	link := filepath.Join(dir, ".b.link")
	if err := os.Symlink(bv2, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(link, b); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "b.test.")

	write(t, filepath.Join(dir, "unrelated.txt"), "x")
	r.quiet(t, 2*debounce)

	os.Remove(a)
	r.quiet(t, 2*debounce)
	write(t, a, "back")
	r.expect(t, "a.test.")
}

// TestMissingDirectory: a zone whose directory does not exist does not stop the watcher; the
// other zones are still watched.
func TestMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.zone")
	write(t, a, "1")
	r := start(t, []Zone{{"gone.test.", filepath.Join(dir, "nowhere", "gone.zone")}, {"a.test.", a}})
	write(t, a, "22")
	r.expect(t, "a.test.")
}

// TestSameSizeSameTick: a file rewritten with contents of the same size within the same
// timestamp tick (same inode, size and modification time) is still reloaded, and a racy file
// that did not change is not.
func TestSameSizeSameTick(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.zone")
	write(t, a, "DS 1111")
	tick := time.Now().Truncate(time.Second)
	if err := os.Chtimes(a, tick, tick); err != nil {
		t.Fatal(err)
	}
	r := start(t, []Zone{{"a.test.", a}})
	r.quiet(t, 2*debounce) // recorded as it is: nothing to reload
	write(t, a, "DS 2222")
	if err := os.Chtimes(a, tick, tick); err != nil {
		t.Fatal(err)
	}
	r.expect(t, "a.test.")
	// The same bytes again, same tick: an event, but nothing changed.
	write(t, a, "DS 2222")
	if err := os.Chtimes(a, tick, tick); err != nil {
		t.Fatal(err)
	}
	r.quiet(t, 3*debounce)
}

// TestChangeBeforeRun: a file changed after New (when the server loads its zones) and before
// Run is reloaded once Run starts, even though the change looks like the recorded file by
// size and time.
func TestChangeBeforeRun(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.zone"), filepath.Join(dir, "b.zone")
	write(t, a, "DS 1111")
	write(t, b, "DS 1111")
	tick := time.Now().Truncate(time.Second)
	os.Chtimes(a, tick, tick)
	r := &recorder{call: make(chan string, 100)}
	w, err := New([]Zone{{"a.test.", a}, {"b.test.", b}}, r.reload, Options{Debounce: debounce})
	if err != nil {
		t.Fatal(err)
	}
	write(t, a, "DS 2222") // the load happens here: the registrar rewrites the parent
	if err := os.Chtimes(a, tick, tick); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	r.expect(t, "a.test.")
	r.quiet(t, 3*debounce) // b did not change
}

// TestNotRacyAfterWindow: once a file's time is older than the racy window, a check with
// nothing changed drops its hash, and a later write (new time) is still seen.
func TestNotRacyAfterWindow(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.zone")
	write(t, a, "1")
	now := time.Now()
	clock := func() time.Time { return now }
	r := &recorder{call: make(chan string, 100)}
	w, err := New([]Zone{{"a.test.", a}}, r.reload, Options{Debounce: debounce, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !w.seen[a].hashed {
		t.Fatal("a file written just now is not hashed")
	}
	now = now.Add(2 * racyWindow)
	w.Check()
	if w.seen[a].hashed {
		t.Fatal("a file older than the racy window is still hashed")
	}
	write(t, a, "2")
	later := now.Add(time.Second)
	os.Chtimes(a, later, later)
	w.Check()
	r.expect(t, "a.test.")
}
