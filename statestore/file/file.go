package file

import (
	"context"
	"errors"
	"fmt"
	"hash/crc64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/statestore"
)

// lockName is the file flock(2) serialises writers on; the leading dot keeps it apart from
// every document name.
const lockName = ".lock"

// Store keeps zone documents as files in one directory.
type Store struct {
	dir string

	mu       sync.Mutex
	watchers map[*watcher]bool
}

// watcher is one Watch: its channel and the context that ends it.
type watcher struct {
	ctx context.Context
	ch  chan statestore.Change
}

var _ statestore.Store = (*Store)(nil)

// Open returns the Store over dir, creating it 0700 (or tightening it to 0700) first.
func Open(dir string) (*Store, error) {
	if err := atomicfile.PrepareDir(dir); err != nil {
		return nil, fmt.Errorf("statestore: %w", err)
	}
	return &Store{dir: dir, watchers: map[*watcher]bool{}}, nil
}

// Dir returns the directory the documents are in.
func (s *Store) Dir() string { return s.dir }

// fileName maps a zone document to its file: "example.com." -> "example.com.json" or
// "example.com.premade", the root to "root.json". The suffix keeps a state file from ever
// sharing a name with a pre-made signature file. A name with a path separator or a leading
// dot could escape the directory or hide among temporary files, so it is refused.
func fileName(zone string, doc statestore.Doc) (string, error) {
	name := strings.TrimSuffix(zone, ".")
	if name == "" {
		name = "root"
	}
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || name != strings.ToLower(name) {
		return "", fmt.Errorf("statestore: zone name %q cannot name a state file", zone)
	}
	switch doc {
	case statestore.KeyState:
		return name + ".json", nil
	case statestore.Premade:
		return name + ".premade", nil
	}
	return "", fmt.Errorf("statestore: unknown document %q", doc)
}

// crcTable is revision's: CRC-64 (ECMA-182), which Go computes eight octets at a time where
// FNV-1a takes one, a tenth of a 10,000-zone restart's reading of its documents.
var crcTable = crc64.MakeTable(crc64.ECMA)

// revision is the document's hash, never 0 (which means "absent").
func revision(data []byte) statestore.Revision {
	if r := statestore.Revision(crc64.Checksum(data, crcTable)); r != 0 {
		return r
	}
	return 1
}

// Load implements statestore.Store. Temporary files left by a crash during Save are never
// read: only the final name is.
func (s *Store) Load(ctx context.Context, zone string, doc statestore.Doc) ([]byte, statestore.Revision, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	name, err := fileName(zone, doc)
	if err != nil {
		return nil, 0, err
	}
	return s.read(name)
}

func (s *Store) read(name string) ([]byte, statestore.Revision, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%s: %w", name, statestore.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("statestore: %w", err)
	}
	return b, revision(b), nil
}

// Save implements statestore.Store.
func (s *Store) Save(ctx context.Context, zone string, doc statestore.Doc, data []byte, prev statestore.Revision) (statestore.Revision, error) {
	name, err := fileName(zone, doc)
	if err != nil {
		return 0, err
	}
	// Written before the lock, renamed under it, and made durable by barriers shared with
	// every concurrent writer on the filesystem (atomicfile.Barrier, a syncfs), not by an
	// fsync per file: a first start of thousands of zones saves thousands of documents at
	// once. The first barrier makes the temporary file's data durable, so that the name, once
	// renamed, never holds less than the whole document after a crash of the machine; it
	// also makes durable whatever the caller wrote before (the keys a state names). The
	// second makes the rename durable: Save returns once the document is.
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	t, err := atomicfile.CreateTemp(s.dir, name)
	if err != nil {
		return 0, fmt.Errorf("statestore: %w", err)
	}
	defer t.Discard()
	if err := t.WriteUnsynced(data); err != nil {
		return 0, fmt.Errorf("statestore: %w", err)
	}
	if err := atomicfile.Barrier(s.dir); err != nil {
		return 0, fmt.Errorf("statestore: %w", err)
	}
	if err := s.swap(ctx, name, prev, t.Commit); err != nil {
		return 0, err
	}
	if err := atomicfile.Barrier(s.dir); err != nil {
		return 0, fmt.Errorf("statestore: %w", err)
	}
	rev := revision(data)
	s.notify(statestore.Change{Zone: zone, Doc: doc, Rev: rev})
	return rev, nil
}

// Delete implements statestore.Store.
func (s *Store) Delete(ctx context.Context, zone string, doc statestore.Doc, prev statestore.Revision) error {
	name, err := fileName(zone, doc)
	if err != nil {
		return err
	}
	if err := s.swap(ctx, name, prev, func() error { return atomicfile.Remove(s.dir, name) }); err != nil {
		return err
	}
	if prev != 0 {
		s.notify(statestore.Change{Zone: zone, Doc: doc})
	}
	return nil
}

// swap runs write if the file's revision is prev, holding the directory's lock from the
// comparison to the end of the write.
func (s *Store) swap(ctx context.Context, name string, prev statestore.Revision, write func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	_, cur, err := s.read(name)
	if err != nil && !errors.Is(err, statestore.ErrNotFound) {
		return err
	}
	if cur != prev {
		return fmt.Errorf("%s: %w", name, statestore.ErrConflict)
	}
	if err := write(); err != nil {
		return fmt.Errorf("statestore: %w", err)
	}
	return nil
}

// lock takes the directory's exclusive lock; the returned func releases it. The lock is per
// open file description, so it also serialises goroutines of one process.
func (s *Store) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.dir, lockName), os.O_RDWR|os.O_CREATE, atomicfile.FileMode)
	if err != nil {
		return nil, fmt.Errorf("statestore: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("statestore: lock %s: %w", s.dir, err)
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}

// Watch implements statestore.Store. A state directory has one writer, the process that
// serves its zones, so the changes reported are those made through this Store.
func (s *Store) Watch(ctx context.Context) (<-chan statestore.Change, error) {
	w := &watcher{ctx: ctx, ch: make(chan statestore.Change, 16)}
	s.mu.Lock()
	s.watchers[w] = true
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		delete(s.watchers, w)
		close(w.ch)
		s.mu.Unlock()
	}()
	return w.ch, nil
}

// notify hands c to every watcher, waiting for a slow one unless its Watch has ended. The
// lock keeps a channel from closing during the send, and the order of changes.
func (s *Store) notify(c statestore.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watchers {
		select {
		case w.ch <- c:
		case <-w.ctx.Done():
		}
	}
}
