package atomicfile

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSyncDirShared: concurrent SyncDir calls share fsyncs, and every call returns only once
// an fsync that began after the call has ended (one under way at the call may predate the
// caller's rename, so it does not count), with that fsync's error.
func TestSyncDirShared(t *testing.T) {
	testShared(t, &fsyncDir, SyncDir)
}

// TestBarrierShared: Barrier shares syncfs calls the same way.
func TestBarrierShared(t *testing.T) {
	var hook func(string) error
	orig := syncFS
	syncFS = func(_ *shared, dir string) error { return hook(dir) }
	t.Cleanup(func() { syncFS = orig })
	testShared(t, &hook, Barrier)
}

// TestBarrier: a real syncfs of the test's filesystem succeeds, and a missing directory is
// an error naming it.
func TestBarrier(t *testing.T) {
	dir := t.TempDir()
	if err := Barrier(dir); err != nil {
		t.Fatal(err)
	}
	missing := dir + "/missing"
	if err := Barrier(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("Barrier(%s) = %v, want an error naming it", missing, err)
	}
}

// testShared runs concurrent calls of call, with *hook (the function that syncs) replaced by
// one that records when each sync begins and ends.
func testShared(t *testing.T, hook *func(string) error, call func(string) error) {
	var mu sync.Mutex
	var events []string // "call", "start", "end", "return", in order
	type span struct{ call, ret int }
	spans := make([]span, 64)
	starts, ends := map[int]int{}, map[int]int{} // fsync number -> event index
	n := 0
	log := func(e string) int {
		events = append(events, e)
		return len(events) - 1
	}
	fail := 3 // the sync that fails
	orig := *hook
	*hook = func(string) error {
		mu.Lock()
		n++
		me := n
		starts[me] = log("start")
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		ends[me] = log("end")
		mu.Unlock()
		if me == fail {
			return errors.New("disk on fire")
		}
		return nil
	}
	t.Cleanup(func() { *hook = orig })
	dir := t.TempDir()
	errs := make([]error, len(spans))
	var wg sync.WaitGroup
	for i := range spans {
		wg.Go(func() {
			time.Sleep(time.Duration(i%8) * time.Millisecond)
			mu.Lock()
			spans[i].call = log("call")
			mu.Unlock()
			errs[i] = call(dir)
			mu.Lock()
			spans[i].ret = log("return")
			mu.Unlock()
		})
	}
	wg.Wait()
	if n >= len(spans) {
		t.Errorf("%d fsyncs for %d concurrent calls: none shared", n, len(spans))
	}
	if n < fail {
		t.Fatalf("only %d fsyncs: the failing one never ran, the test proves nothing about errors", n)
	}
	for i, s := range spans {
		// The first fsync that began after the call must have ended before the return.
		covered := 0
		for k := 1; k <= n; k++ {
			if starts[k] > s.call {
				covered = k
				break
			}
		}
		if covered == 0 || ends[covered] > s.ret {
			t.Fatalf("call %d returned (event %d) before an fsync begun after it (event %d) ended", i, s.ret, s.call)
		}
		// Every sync that began after the call and ended before its return covers it: the
		// call may be answered by any of them (one that began between the call and the
		// moment it queued counts too), so an error must come from the failing one among
		// them, and no error from another among them.
		within := func(k int) bool { return starts[k] > s.call && ends[k] < s.ret }
		if errs[i] != nil && !within(fail) {
			t.Errorf("call %d got %v, yet the failing sync did not run within it", i, errs[i])
		}
		if errs[i] == nil && within(fail) && !slices.ContainsFunc(slices.Collect(maps.Keys(starts)), func(k int) bool { return k != fail && within(k) }) {
			t.Errorf("call %d was covered by the failing sync alone and got no error", i)
		}
	}
}
