package memlimit

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"": 0, "0": 0, "1024": 1024, "512MiB": 512 << 20, "2GiB": 2 << 30, "2G": 2e9, "64 KiB": 64 << 10, "100B": 100,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"-1", "1.5G", "lots", "12TB", "99999999999GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded, want an error", in)
		}
	}
}

func TestSoft(t *testing.T) {
	if l, src := Soft(1<<30, 4<<30); l != 1<<30 || src != "config" {
		t.Errorf("configured: %d %s", l, src)
	}
	if l, src := Soft(0, 1000<<20); l != 900<<20 || src != "cgroup" {
		t.Errorf("cgroup: %d %s, want 90%% of it", l, src)
	}
	if l, src := Soft(0, 0); l != 0 || src != "none" {
		t.Errorf("none: %d %s", l, src)
	}
}

func TestReadMax(t *testing.T) {
	root := t.TempDir()
	leaf := filepath.Join(root, "system.slice", "signet.service")
	if err := os.MkdirAll(leaf, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(dir, v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "memory.max"), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "system.slice"), "1073741824")
	if n, err := readMax(root, "/system.slice/signet.service"); err != nil || n != 1<<30 {
		t.Errorf("from the parent: %d, %v", n, err)
	}
	write(leaf, "max")
	if n, err := readMax(root, "/system.slice/signet.service"); err != nil || n != 0 {
		t.Errorf("max: %d, %v; want 0 (no limit)", n, err)
	}
	write(leaf, "garbage")
	if _, err := readMax(root, "/system.slice/signet.service"); err == nil {
		t.Errorf("a malformed memory.max was accepted")
	}
	if n, err := readMax(root, "/other"); err != nil || n != 0 {
		t.Errorf("no memory.max anywhere: %d, %v", n, err)
	}
}

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 400}, {10 * mb, 400}, {64 * mb, 400}, {128 * mb, 200}, {256 * mb, 100}, {1024 * mb, 25}, {8192 * mb, 25},
	} {
		if got := Percent(tc.live, 256*mb, 25, 400); got != tc.want {
			t.Errorf("Percent(%d MB) = %d, want %d", tc.live/mb, got, tc.want)
		}
	}
}

// TestGovernor holds a live heap of 64 MiB with a headroom of 16 MiB: after a collection GOGC
// must follow (25%), and a small heap gets the maximum back.
func TestGovernor(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	g := &Governor{Headroom: 16 << 20, MinPercent: 10, MaxPercent: 400}
	big := make([]byte, 64<<20)
	for i := range big {
		big[i] = 1
	}
	g.Start()
	defer g.Stop()
	wait := func(cond func(int) bool) int {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			runtime.GC()
			if p := g.Current(); cond(p) {
				return p
			}
			time.Sleep(10 * time.Millisecond)
		}
		return g.Current()
	}
	if p := wait(func(p int) bool { return p <= 25 }); p > 25 || p < 10 {
		t.Errorf("with 64 MiB live GOGC = %d, want 10..25", p)
	}
	runtime.KeepAlive(big)
	big = nil
	if p := wait(func(p int) bool { return p == 400 }); p != 400 {
		t.Errorf("after the heap shrank GOGC = %d, want 400", p)
	}
	if cur := debug.SetGCPercent(100); cur != g.Current() {
		t.Errorf("the runtime's GOGC %d differs from the governor's %d", cur, g.Current())
	}
	debug.SetGCPercent(g.Current())
}

// TestGovernorPollStops checks that the governor's poll sets GOGC between collections, and
// that after Stop it no longer touches GOGC.
func TestGovernorPollStops(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	g := &Governor{Headroom: 1 << 40, MinPercent: 10, MaxPercent: 333, Poll: 5 * time.Millisecond}
	// forget sets GOGC behind the governor's back and makes it forget what it set, so that its
	// next adjustment sets GOGC again.
	forget := func() {
		g.mu.Lock()
		g.last = 0
		g.mu.Unlock()
		debug.SetGCPercent(77)
	}
	g.Start()
	for deadline := time.Now().Add(5 * time.Second); ; {
		forget()
		time.Sleep(20 * time.Millisecond)
		if debug.SetGCPercent(77) == 333 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the poll never set GOGC")
		}
	}
	g.Stop()
	forget()
	time.Sleep(50 * time.Millisecond)
	if cur := debug.SetGCPercent(100); cur != 77 {
		t.Errorf("after Stop GOGC = %d, want 77 (untouched)", cur)
	}
}
