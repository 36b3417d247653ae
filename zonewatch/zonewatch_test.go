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
