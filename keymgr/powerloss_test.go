package keymgr

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/signetdns/signet/internal/atomicfile"
)

// TestPowerLossDuringStart records the writes of a first start of many zones at once (quick
// start, over the file keystore and state store, whose writes share syncfs barriers instead
// of an fsync each) and checks what a crash of the machine after any one of them could leave
// on disk (crashLeaves): every state document that may be there whole, every key it names
// there with its metadata and key file whole, and every metadata file whole with its key
// file. A SIGKILL (TestCrashDuringStart) cannot show this: the page cache outlives the
// process.
func TestPowerLossDuringStart(t *testing.T) {
	for _, deferred := range []bool{false, true} {
		t.Run(fmt.Sprintf("deferred %v", deferred), func(t *testing.T) {
			// Not parallel: the observer sees every write of the process.
			dir := t.TempDir()
			var mu sync.Mutex
			var events []atomicfile.Event
			restore := atomicfile.SetObserver(func(e atomicfile.Event) {
				// Only this test's: another test's barrier would make this one's writes durable
				// on a real disk, but it proves nothing about this start's order.
				if strings.HasPrefix(e.Path, dir+string(filepath.Separator)) || e.Path == dir {
					mu.Lock()
					events = append(events, e)
					mu.Unlock()
				}
			})
			var opts []func(*Config)
			if deferred {
				opts = append(opts, deferPremade)
			}
			_, err := startAll(t, dir, crashNames()[:40], t0, opts...)
			restore()
			if err != nil {
				t.Fatal(err)
			}
			keysOf := func(path string) []string {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				zone := strings.TrimSuffix(filepath.Base(path), ".json") + "."
				st, err := decodeState(zone, b)
				if err != nil {
					t.Fatal(err)
				}
				return st.keyIDs()
			}
			states := 0
			for _, e := range events {
				if e.Op == atomicfile.Renamed && isState(e.Path) {
					states++
				}
			}
			if states != 40 {
				t.Fatalf("%d state documents saved, want 40: the recording misses writes", states)
			}
			for _, v := range crashLeaves(events, keysOf) {
				t.Error(v)
			}
		})
	}
}

// TestCrashLeavesFindsBadOrders: the model of TestPowerLossDuringStart does report the
// orders that a power loss punishes.
func TestCrashLeavesFindsBadOrders(t *testing.T) {
	const (
		keys  = "/s/keys/"
		zones = "/s/zones/"
	)
	w := func(p string) atomicfile.Event { return atomicfile.Event{Op: atomicfile.Written, Path: p} }
	mv := func(from, to string) atomicfile.Event {
		return atomicfile.Event{Op: atomicfile.Renamed, From: from, Path: to}
	}
	barrier := []atomicfile.Event{{Op: atomicfile.BarrierBegin, Path: "/s"}, {Op: atomicfile.BarrierEnd, Path: "/s"}}
	seq := func(parts ...any) []atomicfile.Event {
		var out []atomicfile.Event
		for _, p := range parts {
			switch p := p.(type) {
			case atomicfile.Event:
				out = append(out, p)
			case []atomicfile.Event:
				out = append(out, p...)
			}
		}
		return out
	}
	key := seq(w(keys+"k.key.age"), w(keys+".k.json.tmp1"), barrier, mv(keys+".k.json.tmp1", keys+"k.json"), barrier)
	keysOf := func(string) []string { return []string{"k"} }
	for _, tc := range []struct {
		name   string
		events []atomicfile.Event
		bad    bool
	}{
		{"the right order", seq(key, w(zones+".z.json.tmp1"), barrier, mv(zones+".z.json.tmp1", zones+"z.json"), barrier), false},
		{"state renamed before its data is on disk", seq(key, w(zones+".z.json.tmp1"), mv(zones+".z.json.tmp1", zones+"z.json"), barrier), true},
		{"metadata renamed before its data is on disk", seq(w(keys+"k.key.age"), w(keys+".k.json.tmp1"), mv(keys+".k.json.tmp1", keys+"k.json"), barrier), true},
		{"state saved before its key's metadata is on disk", seq(w(keys+"k.key.age"), w(keys+".k.json.tmp1"), w(zones+".z.json.tmp1"), barrier,
			mv(keys+".k.json.tmp1", keys+"k.json"), mv(zones+".z.json.tmp1", zones+"z.json"), barrier), true},
		{"state naming a key never made", seq(w(zones+".z.json.tmp1"), barrier, mv(zones+".z.json.tmp1", zones+"z.json"), barrier), true},
	} {
		if got := crashLeaves(tc.events, keysOf); (len(got) > 0) != tc.bad {
			t.Errorf("%s: %q, want a violation %v", tc.name, got, tc.bad)
		}
	}
}

func isState(path string) bool {
	return filepath.Base(filepath.Dir(path)) == "zones" && strings.HasSuffix(path, ".json") && !strings.HasPrefix(filepath.Base(path), ".")
}

func isMeta(path string) bool {
	return filepath.Base(filepath.Dir(path)) == "keys" && strings.HasSuffix(path, ".json") && !strings.HasPrefix(filepath.Base(path), ".")
}

// keyIDs returns the keystore IDs of every key the state names.
func (s *zoneState) keyIDs() []string {
	var out []string
	for _, k := range s.keys() {
		out = append(out, k.ID)
	}
	return out
}

// crashLeaves checks a recorded run (events in the order they happened) against a crash of
// the machine after each event. A step is surely on disk once a sync that began after it has
// ended: a Barrier (syncfs, the whole filesystem), or for a name in a directory an fsync of
// that directory; else it may or may not be (the kernel writes back in any order). A file
// renamed into place before its data is surely on disk may come back empty (ext4). So for a
// crash after event k, for every rename done by then: the data renamed must be surely on
// disk; a state document's keys (keysOf) must each have their metadata renamed, and both of
// their files written, surely on disk; a metadata file's key file likewise. Each name must be
// renamed into place once (a first start's). It returns the violations.
func crashLeaves(events []atomicfile.Event, keysOf func(statePath string) []string) []string {
	// safe[i]: the index of the event after which step i is surely on disk (len: never).
	safe := make([]int, len(events))
	for i, e := range events {
		safe[i] = len(events)
		begun := map[int]bool{}
		for j := i + 1; j < len(events) && safe[i] == len(events); j++ {
			switch f := events[j]; f.Op {
			case atomicfile.BarrierBegin:
				begun[j] = true
			case atomicfile.DirSyncBegin:
				if f.Path == filepath.Dir(e.Path) || filepath.Clean(f.Path) == filepath.Dir(e.Path) {
					begun[j] = true
				}
			case atomicfile.BarrierEnd, atomicfile.DirSyncEnd:
				// Syncs of one kind run one at a time: an end closes the last begin of its kind.
				for b := j - 1; b > i; b-- {
					if events[b].Op == f.Op-1 && events[b].Path == f.Path {
						if begun[b] {
							safe[i] = j
						}
						break
					}
				}
			}
		}
	}
	written := map[string]int{} // file -> its Written event
	renamed := map[string]int{} // final name -> its Renamed event
	var out []string
	for k, e := range events {
		switch e.Op {
		case atomicfile.Written:
			written[e.Path] = k
		case atomicfile.Renamed:
			if _, again := renamed[e.Path]; again {
				out = append(out, fmt.Sprintf("%s renamed into place twice: the model checks a first start's", e.Path))
			}
			renamed[e.Path] = k
		}
	}
	// dataSafe: the data of file p (a temporary name, or a name written in place) is surely
	// on disk after event k.
	dataSafe := func(p string, k int) bool {
		w, ok := written[p]
		if !ok || w > k {
			return false
		}
		return events[w].Synced || safe[w] <= k
	}
	present := func(p string, k int) bool { r, ok := renamed[p]; return ok && safe[r] <= k }
	keyWhole := func(id, dir string, k int) bool {
		meta := filepath.Join(dir, id+".json")
		r, ok := renamed[meta]
		// The key file is written in place: its data and its name are safe together.
		return ok && present(meta, k) && dataSafe(events[r].From, k) && dataSafe(filepath.Join(dir, id+".key.age"), k)
	}
	reported := map[string]bool{}
	report := func(k int, format string, args ...any) {
		v := fmt.Sprintf("a crash after event %d of %d: ", k, len(events)) + fmt.Sprintf(format, args...)
		if key := fmt.Sprintf(format, args...); !reported[key] {
			reported[key] = true
			out = append(out, v)
		}
	}
	for k := range events {
		for name, r := range renamed {
			if r > k {
				continue // not renamed yet: not there
			}
			if !dataSafe(events[r].From, k) {
				report(k, "%s may be there before its data", name)
			}
			keysDir := filepath.Join(filepath.Dir(filepath.Dir(name)), "keys")
			switch {
			case isState(name):
				for _, id := range keysOf(name) {
					if !keyWhole(id, keysDir, k) {
						report(k, "%s may be there, naming key %s, which may be missing or not whole", name, id)
					}
				}
			case isMeta(name):
				id := strings.TrimSuffix(filepath.Base(name), ".json")
				if !dataSafe(filepath.Join(filepath.Dir(name), id+".key.age"), k) {
					report(k, "%s may be there without its whole key file", name)
				}
			}
		}
	}
	return out
}
