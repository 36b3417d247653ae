package zonewatch

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is the quiet period after a change before the zone is reloaded: long
// enough for an editor or a deploy script to finish writing, short enough to feel at once.
const DefaultDebounce = time.Second

// Zone is one zone file to watch.
type Zone struct {
	Origin string
	Path   string
}

// Options configures a Watcher.
type Options struct {
	// Debounce is the quiet period; 0 means DefaultDebounce.
	Debounce time.Duration
	// Logger receives what the watcher does; nil discards it.
	Logger *slog.Logger
	// Now is the clock that tells whether a modification time is recent; nil means time.Now.
	Now func() time.Time
}

// Watcher watches zone files and reloads the zones whose files changed.
type Watcher struct {
	fs     *fsnotify.Watcher
	zones  []Zone
	reload func(origin string) error
	opt    Options
	log    *slog.Logger

	mu   sync.Mutex
	seen map[string]fileID // by path: the file as last loaded
}

// fileID tells one version of a file from another: a rename replaces the inode, an
// in-place write changes the size or the modification time. A write within the same
// timestamp tick as the one before it, with the same size, changes neither (Linux stamps
// files from a clock that moves in jiffies, other filesystems in seconds), so a file whose
// modification time was recent when it was identified also has its contents hashed, the way
// Git treats "racily clean" index entries.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
	missing  bool
	hashed   bool
	sum      [sha256.Size]byte
}

// racyWindow is how recent a modification time must be for the size and time alone not to
// be trusted: wider than any filesystem's timestamp granularity, with room for the clock of
// a network filesystem's server being a little ahead.
const racyWindow = 3 * time.Second

// identify stats path and, when its modification time is within racyWindow of now, hashes
// it. prev is the identity last recorded: a file whose size and time still match a hashed
// prev is hashed again to tell whether its contents changed.
func identify(path string, now time.Time, prev fileID) fileID {
	fi, err := os.Stat(path) // follows symlinks: a switched link is a new file
	if err != nil {
		return fileID{missing: true}
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
	}
	racy := now.Sub(id.mtime) < racyWindow
	if racy || (prev.hashed && id.sameStat(prev)) {
		id.sum, id.hashed = hashFile(path), true
	}
	return id
}

// sameStat reports whether id and o have the same inode, size and modification time.
func (id fileID) sameStat(o fileID) bool {
	return id.missing == o.missing && id.dev == o.dev && id.ino == o.ino && id.size == o.size && id.mtime.Equal(o.mtime)
}

// changed reports whether id is another version of the file than prev.
func (id fileID) changed(prev fileID) bool {
	if !id.sameStat(prev) {
		return true
	}
	return id.hashed && prev.hashed && id.sum != prev.sum
}

// hashFile is the SHA-256 of path's contents; a file that cannot be read hashes to zero, so
// that it counts as changed once it can be read again.
func hashFile(path string) [sha256.Size]byte {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum
	}
	copy(sum[:], h.Sum(nil))
	return sum
}

// New starts watching the directories of zones and records each file as it is now. Call it
// before the zones are first loaded and Run once they are: a file changed in between is then
// either reported by an event or found different from the record by the check Run starts
// with, and reloaded. (Created after the load, a watcher would record the changed file as the
// one loaded and never reload it.) reload is called with a zone's origin after its file
// changed; it must be safe to call while the server runs (ZoneSet.ReloadZone is). Close
// releases a watcher that is never Run.
func New(zones []Zone, reload func(origin string) error, opt Options) (*Watcher, error) {
	if opt.Debounce <= 0 {
		opt.Debounce = DefaultDebounce
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("zonewatch: %w", err)
	}
	w := &Watcher{fs: fw, reload: reload, opt: opt, log: log, seen: map[string]fileID{}}
	dirs := map[string]bool{}
	for _, z := range zones {
		abs, err := filepath.Abs(z.Path)
		if err != nil {
			fw.Close()
			return nil, fmt.Errorf("zonewatch: %s: %w", z.Path, err)
		}
		z.Path = abs
		w.zones = append(w.zones, z)
		// The directory, not the file: a file replaced by rename is a new inode that a
		// watch on the old one would never report.
		if dir := filepath.Dir(abs); !dirs[dir] {
			dirs[dir] = true
			if err := fw.Add(dir); err != nil {
				// A zone whose directory is missing fails to load and is served SERVFAIL
				// until a reload; it must not keep the other zones from being watched.
				log.Warn("cannot watch a zone file's directory; SIGHUP or signet reload still reload it", "zone", z.Origin, "dir", dir, "err", err)
			}
		}
	}
	// Recorded after the watches are in place, so that a change after the record always
	// raises an event too.
	now := opt.Now()
	for _, z := range w.zones {
		w.seen[z.Path] = identify(z.Path, now, fileID{})
	}
	return w, nil
}

// Close stops watching; Run also does when its context ends. It may be called more than once.
func (w *Watcher) Close() error { return w.fs.Close() }

// Run checks every file once, for changes made since New, then handles events until ctx
// ends, then stops watching.
func (w *Watcher) Run(ctx context.Context) {
	defer w.fs.Close()
	w.Check()
	var timer *time.Timer
	var fire <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.fs.Events:
			if !ok {
				return
			}
			if !w.concerns(ev.Name) {
				continue
			}
			// Every event restarts the quiet period, so a file written in several steps
			// is read once, when the writer is done.
			if timer == nil {
				timer = time.NewTimer(w.opt.Debounce)
			} else {
				timer.Reset(w.opt.Debounce)
			}
			fire = timer.C
		case err, ok := <-w.fs.Errors:
			if !ok {
				return
			}
			w.log.Warn("watching zone files", "err", err)
		case <-fire:
			fire = nil
			w.Check()
		}
	}
}

// concerns reports whether an event on name may have changed a zone file: the file itself,
// or anything else in its directory when the file is a symlink (tools that switch a link to
// a new directory, as Kubernetes does with ConfigMaps, rename the link's target).
func (w *Watcher) concerns(name string) bool {
	dir := filepath.Dir(name)
	for _, z := range w.zones {
		if z.Path == name {
			return true
		}
		if filepath.Dir(z.Path) == dir {
			if fi, err := os.Lstat(z.Path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				return true
			}
		}
	}
	return false
}

// Check reloads every zone whose file is not the one last seen. A file that disappeared is
// left alone (the zone keeps serving) until it is back.
func (w *Watcher) Check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.opt.Now()
	for _, z := range w.zones {
		prev := w.seen[z.Path]
		id := identify(z.Path, now, prev)
		if !id.changed(prev) {
			if id.hashed && now.Sub(id.mtime) >= racyWindow {
				// No longer racy: a later write gets a later time, so the next
				// check needs no hash.
				id.hashed, id.sum = false, [sha256.Size]byte{}
				w.seen[z.Path] = id
			}
			continue
		}
		w.seen[z.Path] = id
		if id.missing {
			w.log.Warn("zone file is gone; still serving the zone as last loaded", "zone", z.Origin, "file", z.Path)
			continue
		}
		w.log.Info("zone file changed, reloading", "zone", z.Origin, "file", z.Path)
		// The reload logs its own result (serial, or the error with file and line).
		w.reload(z.Origin)
	}
}
