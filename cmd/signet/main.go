package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

// defaultGOGC is the garbage collector's target when GOGC is not set. Every answer that needs
// a fresh signature allocates a few kilobytes that die at once, while the live heap (zones,
// caches) is long-lived: collecting at 4x the live heap instead of 2x cuts the collector's CPU
// on a random-name load by about three quarters, for memory this machine class has. serve
// lowers it for a big heap (see startMemory): 4x a zone of a million names is gigabytes.
const defaultGOGC = 400

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGOGC)
	}
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "signet:", err)
		os.Exit(exitCode(err))
	}
}
