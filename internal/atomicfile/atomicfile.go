package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// DirMode and FileMode are the permissions of a private directory and of every file written
// into it: nobody but the owner may list or read them.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// PrepareDir creates dir (and its parents) with mode 0700 if it does not exist. If it exists
// with group or world permissions it is tightened to 0700 rather than refused: failing to
// start a server over a mode bit helps nobody, whereas leaving it open would.
func PrepareDir(dir string) error {
	if dir == "" {
		return errors.New("empty directory name")
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm() != DirMode {
		if err := os.Chmod(dir, DirMode); err != nil {
			return fmt.Errorf("restrict %s to 0700: %w", dir, err)
		}
	}
	return nil
}

// Write writes data to dir/name with mode 0600: a temporary file in the same directory
// (named ".<name>.tmp*", so a reader that ignores dot files never sees one), fsync, rename
// over the target, fsync of the directory so that the rename itself is durable. A crash at
// any point leaves the previous file, and perhaps a stray temporary file that a later Write
// never collides with.
func Write(dir, name string, data []byte) error {
	t, err := CreateTemp(dir, name)
	if err != nil {
		return err
	}
	if err := t.Write(data); err != nil {
		t.Discard()
		return err
	}
	if err := t.Commit(); err != nil {
		t.Discard()
		return err
	}
	return SyncDir(dir)
}

// Temp is the temporary file of one Write, for a caller that orders the steps itself: it
// writes several files before renaming any, or renames under its own lock and syncs the
// directory after releasing it, so that concurrent writers share the directory's fsync.
type Temp struct {
	f         *os.File
	dir, name string
	tmp       string // "" once renamed or removed
}

// CreateTemp creates the temporary file for dir/name, mode 0600. The caller writes it with
// Write, then renames it into place with Commit, or removes it with Discard.
func CreateTemp(dir, name string) (*Temp, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return nil, err
	}
	// CreateTemp already uses 0600; Chmod makes it independent of that detail.
	if err := f.Chmod(FileMode); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	return &Temp{f: f, dir: dir, name: name, tmp: f.Name()}, nil
}

// Write writes data to the temporary file, fsyncs and closes it: once Commit renames it,
// the file has its whole contents whatever happens.
func (t *Temp) Write(data []byte) error { return t.write(data, true) }

// WriteUnsynced writes data to the temporary file and closes it without an fsync of its own,
// for a caller that makes many files durable at once with Barrier. Until a Barrier begun
// after it has ended, a crash of the machine (not of the process: the data is in the page
// cache then) may lose the data: on ext4 a file renamed before its data reached the disk can
// come back empty. So a file that must be whole whenever its name exists is committed only
// after such a Barrier; one that a reader may find empty or torn and do without (a cache, or
// a file that nothing refers to yet) can be committed at once.
func (t *Temp) WriteUnsynced(data []byte) error { return t.write(data, false) }

// write writes data to the temporary file, fsyncs it if sync, and closes it.
func (t *Temp) write(data []byte, sync bool) error {
	f := t.f
	t.f = nil
	if f == nil {
		return fmt.Errorf("write %s: written already", t.tmp)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", t.tmp, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return fmt.Errorf("sync %s: %w", t.tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", t.tmp, err)
	}
	observe(Event{Op: Written, Path: t.tmp, Synced: sync})
	return nil
}

// Commit renames the written temporary file over dir/name. The rename is durable once
// SyncDir(dir) has returned after it.
func (t *Temp) Commit() error {
	if t.f != nil || t.tmp == "" {
		return fmt.Errorf("rename %s: not written, or gone", t.tmp)
	}
	if err := rename(t.tmp, filepath.Join(t.dir, t.name)); err != nil {
		return err
	}
	t.tmp = ""
	return nil
}

// rename is rename(2), without os.Rename's look-up of the target first (an Lstat, which for
// the new names of a directory of tens of thousands of files costs a search each; rename(2)
// refuses a directory target by itself).
func rename(from, to string) error {
	for {
		err := syscall.Rename(from, to)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
		}
		observe(Event{Op: Renamed, From: from, Path: to})
		return nil
	}
}

// WriteNew creates dir/name, mode 0600, which must not exist, and writes data to it without
// an fsync, under its final name at once: for a file that means nothing until another one,
// renamed into place after a Barrier, refers to it (a key file before its metadata). After a
// crash it may be there empty or cut short; until the write returns a reader may see it so.
func WriteNew(dir, name string, data []byte) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, FileMode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	observe(Event{Op: Written, Path: f.Name()})
	return nil
}

// Discard removes the temporary file unless Commit renamed it; it is safe to call always.
func (t *Temp) Discard() {
	if t.f != nil {
		_ = t.f.Close()
		t.f = nil
	}
	if t.tmp != "" {
		_ = os.Remove(t.tmp)
		t.tmp = ""
	}
}

// Remove removes dir/name for each name, ignoring files that are already gone, then fsyncs
// dir so that the removals survive a crash.
func Remove(dir string, names ...string) error {
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		observe(Event{Op: Removed, Path: filepath.Join(dir, n)})
	}
	return SyncDir(dir)
}

// SyncDir makes the renames and removals made in dir before the call durable: it returns
// once an fsync of dir that began after the call has finished. Concurrent callers share
// one fsync: a directory's fsync costs about as much for one change as for a hundred
// (writing out the directory's blocks), and a server creating thousands of zones' files at
// once would otherwise spend most of its start in them. An fsync under way when a caller
// arrives may have begun before its change, so that caller waits for the next one.
func SyncDir(dir string) error {
	return groupOf("dir:" + filepath.Clean(dir)).run(func() error {
		observe(Event{Op: DirSyncBegin, Path: dir})
		defer observe(Event{Op: DirSyncEnd, Path: dir})
		return fsyncDir(dir)
	})
}

// Barrier makes durable every write, rename and removal made before the call on the
// filesystem that holds dir (WriteUnsynced's data included): it returns once a syncfs(2) of
// that filesystem that began after the call has ended. Concurrent callers share one syncfs,
// as SyncDir's callers share an fsync. It is how many files are made durable at the cost of
// one: syncfs writes the files' data and the inode and directory blocks they share once,
// where an fsync per file writes each of them again for every file (and on ext4 without a
// journal, the file's directory with it). It flushes the other writers' data on the same
// filesystem too, which is why it is used in batches, not for one file.
func Barrier(dir string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return fmt.Errorf("barrier %s: %w", dir, err)
	}
	g := groupOf(fmt.Sprintf("fs:%d", st.Dev))
	return g.run(func() error {
		observe(Event{Op: BarrierBegin, Path: dir})
		defer observe(Event{Op: BarrierEnd, Path: dir})
		return syncFS(g, dir)
	})
}

// run returns once a call of do that began after run was called has ended, with that call's
// error; concurrent callers share calls, one at a time.
func (g *shared) run(do func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	want := g.started + 1
	for g.done < want {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		n := g.started
		g.mu.Unlock()
		err := do()
		g.mu.Lock()
		g.running = false
		g.done = n
		if err != nil {
			g.errAt, g.err = n, err
		}
		g.cond.Broadcast()
	}
	if g.errAt >= want {
		return g.err
	}
	return nil
}

// shared is the state of the shared fsyncs of one directory, or syncfs calls of one
// filesystem, numbered from 1 in the order they begin.
type shared struct {
	mu      sync.Mutex
	cond    sync.Cond
	started uint64 // the last call begun
	done    uint64 // the last call finished (they run one at a time)
	running bool
	errAt   uint64 // the last call that failed, with its error
	err     error
	fd      *os.File // a filesystem's: the directory syncfs is called on (syncfs)
}

// groups holds a *shared per directory ("dir:" and its cleaned path) and per filesystem
// ("fs:" and its device number).
var groups sync.Map

func groupOf(key string) *shared {
	if g, ok := groups.Load(key); ok {
		return g.(*shared)
	}
	g := &shared{}
	g.cond.L = &g.mu
	actual, _ := groups.LoadOrStore(key, g)
	return actual.(*shared)
}

// syncFS is syncfs; the tests replace it to watch the order of events.
var syncFS = syncfs

// syncfs runs syncfs(2) on g's filesystem, through a descriptor of dir opened at g's first
// barrier and kept: syncfs reports a writeback error of any file of the filesystem that
// happened since its descriptor was opened (Linux 5.8), so a descriptor opened for each call
// could miss the error of a write made before, once another process had seen it. Barriers of
// one filesystem run one at a time, so g.fd needs no lock.
func syncfs(g *shared, dir string) error {
	if g.fd == nil {
		d, err := os.Open(dir)
		if err != nil {
			return err
		}
		g.fd = d
	}
	if err := unix.Syncfs(int(g.fd.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return nil
}

// fsyncDir is syncDir; the tests replace it to watch the order of events.
var fsyncDir = syncDir

// syncDir fsyncs a directory so that renames and removals in it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Op is what an Event records.
type Op int

// The steps Observe is told of.
const (
	// Written: a file's data was written (Synced: and fsynced) and the file closed; a file
	// written by WriteNew is there under its final name from then on.
	Written Op = iota + 1
	// Renamed: From was renamed to Path.
	Renamed
	// Removed: Path was removed.
	Removed
	// DirSyncBegin and DirSyncEnd enclose an fsync of the directory Path (SyncDir).
	DirSyncBegin
	DirSyncEnd
	// BarrierBegin and BarrierEnd enclose a syncfs of the filesystem holding Path (Barrier).
	BarrierBegin
	BarrierEnd
)

// Event is one step of a write that matters after a crash of the machine.
type Event struct {
	Op     Op
	Path   string // the file, or the directory synced
	From   string // Renamed: the old name
	Synced bool   // Written: fsynced before it returned
}

// observer is told every Event (SetObserver).
var observer atomic.Pointer[func(Event)]

// SetObserver makes f be told every Event, as it happens, until the returned function is
// called; f must be safe for concurrent use. It is for tests: a package that writes through
// atomicfile records the events of a run and checks what a crash of the machine after any of
// them could leave on disk (a step is durable once a sync that began after it has ended).
func SetObserver(f func(Event)) (restore func()) {
	old := observer.Swap(&f)
	return func() { observer.Store(old) }
}

func observe(e Event) {
	if f := observer.Load(); f != nil {
		(*f)(e)
	}
}
