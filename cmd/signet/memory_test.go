package main

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"
)

// TestStartMemory: memory_limit becomes the runtime's soft limit; GOMEMLIMIT in the
// environment wins over it; a bad size is an error naming the key.
func TestStartMemory(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	oldGC := debug.SetGCPercent(-1)
	debug.SetGCPercent(oldGC)
	t.Cleanup(func() { debug.SetMemoryLimit(old); debug.SetGCPercent(oldGC) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("GOGC", "100") // the governor is tested in memlimit; here it stays off
	t.Setenv("GOMEMLIMIT", "")

	stop, err := startMemory(&config{MemoryLimit: "64MiB"}, log)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != 64<<20 {
		t.Errorf("soft limit %d, want 64 MiB", got)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	t.Setenv("GOMEMLIMIT", "1GiB")
	stop, err = startMemory(&config{MemoryLimit: "64MiB"}, log)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, serve changed the limit to %d", got)
	}

	t.Setenv("GOMEMLIMIT", "")
	if _, err := startMemory(&config{MemoryLimit: "lots"}, log); err == nil {
		t.Error("a bad memory_limit was accepted")
	}
}
