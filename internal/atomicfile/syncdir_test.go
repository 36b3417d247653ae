package atomicfile

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// TestSyncDirShared: concurrent SyncDir calls share fsyncs, and every call returns only once
// an fsync that began after the call has ended (one under way at the call may predate the
// caller's rename, so it does not count), with that fsync's error.
func TestSyncDirShared(t *testing.T) {
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
	fail := 5 // the fsync that fails
	fsyncDir = func(string) error {
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
	t.Cleanup(func() { fsyncDir = syncDir })
	dir := t.TempDir()
	errs := make([]error, len(spans))
	var wg sync.WaitGroup
	for i := range spans {
		wg.Go(func() {
			time.Sleep(time.Duration(i%8) * time.Millisecond)
			mu.Lock()
			spans[i].call = log("call")
			mu.Unlock()
			errs[i] = SyncDir(dir)
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
		if covered == fail && errs[i] == nil {
			t.Errorf("call %d was covered by the failing fsync and got no error", i)
		}
		if covered < fail && starts[fail] > s.ret && errs[i] != nil {
			t.Errorf("call %d returned before the failing fsync began, yet got %v", i, errs[i])
		}
	}
}
