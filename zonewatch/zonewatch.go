package zonewatch

import (
	"context"
	"fmt"
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
// in-place write changes the size or the modification time.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
	missing  bool
}

func identify(path string) fileID {
	fi, err := os.Stat(path) // follows symlinks: a switched link is a new file
	if err != nil {
		return fileID{missing: true}
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
	}
	return id
}

// New starts watching the directories of zones. reload is called with a zone's origin after
// its file changed; it must be safe to call while the server runs (ZoneSet.ReloadZone is).
func New(zones []Zone, reload func(origin string) error, opt Options) (*Watcher, error) {
	if opt.Debounce <= 0 {
		opt.Debounce = DefaultDebounce
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
		w.seen[abs] = identify(abs)
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
	return w, nil
}

// Run handles events until ctx ends, then stops watching.
func (w *Watcher) Run(ctx context.Context) {
	defer w.fs.Close()
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
	for _, z := range w.zones {
		id := identify(z.Path)
		if id == w.seen[z.Path] {
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
