package memlimit

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CgroupShare is the part of a cgroup's memory.max that Soft gives the Go heap: the rest is for
// what the runtime does not count (thread stacks outside the heap, the kernel's socket buffers)
// before the kernel's OOM killer would act.
const CgroupShare = 0.9

// ParseSize reads a size in bytes: a whole number with an optional unit, K, M, G (powers of
// 1000) or KiB, MiB, GiB (powers of 1024), as in "512MiB" or "2G". "" and "0" are 0.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q: want a whole number of bytes with an optional unit (KiB, MiB, GiB, K, M, G)", s)
	}
	return n * mult, nil
}

// FromCgroup returns the memory limit (memory.max) of the cgroup v2 the process runs in, read
// under root (normally /sys/fs/cgroup) at the path /proc/self/cgroup names; 0 when there is
// none ("max", or no cgroup v2).
func FromCgroup(root string) (int64, error) {
	f, err := os.Open("/proc/self/cgroup")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// cgroup v2 is the line "0::/path".
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return readMax(root, p)
		}
	}
	return 0, sc.Err()
}

// readMax reads memory.max of cgroup path under root, or of its nearest ancestor that has one
// (inside a container the process's own cgroup may show as the root).
func readMax(root, path string) (int64, error) {
	for dir := filepath.Join(root, path); ; dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "memory.max"))
		if err == nil {
			v := strings.TrimSpace(string(b))
			if v == "max" {
				return 0, nil
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("cgroup memory.max %q: %w", v, err)
			}
			return n, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		if len(dir) <= len(root) {
			return 0, nil
		}
	}
}

// Soft returns the soft memory limit to set: the configured size when there is one, else
// CgroupShare of the cgroup's limit, else 0 (none). source says which.
func Soft(configured, cgroup int64) (limit int64, source string) {
	switch {
	case configured > 0:
		return configured, "config"
	case cgroup > 0:
		return int64(float64(cgroup) * CgroupShare), "cgroup"
	}
	return 0, "none"
}

// Percent returns the GOGC that lets the heap grow at most headroom bytes over live before the
// next collection, within [minPercent, maxPercent]: a small heap keeps maxPercent (little
// collector CPU for short-lived garbage), a big one a headroom that does not grow with it.
func Percent(live, headroom uint64, minPercent, maxPercent int) int {
	if live == 0 {
		return maxPercent
	}
	p := headroom * 100 / live
	return int(max(uint64(minPercent), min(p, uint64(maxPercent))))
}

// Governor sets GOGC after every collection from the live heap (see Percent).
type Governor struct {
	Headroom   uint64 // bytes the heap may grow over the live heap
	MinPercent int    // GOGC never goes below it (a collection per few percent of growth costs CPU)
	MaxPercent int    // GOGC for a small heap
	// Poll is how often the governor also looks at the live heap between its adjustments after
	// collections (DefaultPoll when 0). The adjustment after a collection runs on the
	// finalizer goroutine and can miss a collection that follows quickly, as when a zone load
	// allocates its big slices at once: the heap would then grow by MaxPercent of them.
	Poll time.Duration

	mu      sync.Mutex
	stopped bool
	stop    chan struct{}
	last    int
	sample  []metrics.Sample
}

// DefaultPoll is Governor.Poll's default.
const DefaultPoll = 50 * time.Millisecond

// Start applies the governor now, after every collection and every Poll until Stop.
func (g *Governor) Start() {
	g.sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	g.stop = make(chan struct{})
	g.adjust()
	g.arm()
	poll := g.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	go func() {
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			select {
			case <-g.stop:
				return
			case <-t.C:
				g.adjust()
			}
		}
	}()
}

// Stop ends the adjustments; GOGC keeps its last value.
func (g *Governor) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.stopped {
		g.stopped = true
		close(g.stop)
	}
}

// Current returns the GOGC the governor set last.
func (g *Governor) Current() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last
}

// arm makes an object whose finalizer runs after the next collection that finds it garbage,
// that is after every cycle: the finalizer adjusts and arms a new one.
func (g *Governor) arm() {
	s := new(sentinel)
	runtime.SetFinalizer(s, func(*sentinel) {
		g.mu.Lock()
		stopped := g.stopped
		g.mu.Unlock()
		if !stopped {
			g.adjust()
			g.arm()
		}
	})
}

// sentinel is not zero-sized: the runtime gives every zero-sized object the same address and
// never finalizes it.
type sentinel struct{ _ byte }

func (g *Governor) adjust() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	metrics.Read(g.sample)
	var live uint64
	if g.sample[0].Value.Kind() == metrics.KindUint64 {
		live = g.sample[0].Value.Uint64()
	}
	p := Percent(live, g.Headroom, g.MinPercent, g.MaxPercent)
	if p != g.last {
		debug.SetGCPercent(p)
		g.last = p
	}
}
