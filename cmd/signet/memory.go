package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/signetdns/signet/memlimit"
)

// heapHeadroom is how far the heap may grow over the live heap before a collection once the
// live heap is big: defaultGOGC's 4x for a small heap, never more than this many bytes over a
// big one, nor less than minGOGC percent.
const (
	heapHeadroom = 128 << 20
	minGOGC      = 25
)

// startMemory bounds the process's memory by configuration: the soft limit (memory_limit, else
// 90% of the cgroup's memory.max, unless GOMEMLIMIT is set) and, unless GOGC is set, a GOGC
// that follows the live heap. It returns what stops the governor.
func startMemory(c *config, log *slog.Logger) (stop func(), err error) {
	stop = func() {}
	if os.Getenv("GOGC") == "" {
		g := &memlimit.Governor{Headroom: heapHeadroom, MinPercent: minGOGC, MaxPercent: defaultGOGC}
		g.Start()
		stop = g.Stop
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		log.Info("memory limit", "limit", os.Getenv("GOMEMLIMIT"), "source", "GOMEMLIMIT")
		return stop, nil
	}
	configured, err := memlimit.ParseSize(c.MemoryLimit)
	if err != nil {
		stop()
		return nil, fmt.Errorf("memory_limit: %w", err)
	}
	cg, err := memlimit.FromCgroup("/sys/fs/cgroup")
	if err != nil {
		// Without the cgroup's figure the limit is the configured one or none: say so, serve on.
		log.Warn("cannot read the cgroup memory limit", "err", err)
	}
	limit, source := memlimit.Soft(configured, cg)
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	log.Info("memory limit", "limit_bytes", limit, "source", source)
	return stop, nil
}
