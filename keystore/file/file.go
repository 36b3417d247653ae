package file

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/internal/fsutil"
	"github.com/signetdns/signet/keystore/internal/keyutil"

	"filippo.io/age"
	"golang.org/x/sync/singleflight"
)

// Backend is the value of Meta.Backend for keys held by this package.
const Backend = "software"

// Work factors are scrypt's log2(N) (RFC 7914 §2).
const (
	// DefaultWorkFactor is the work factor for new keys: about a second and
	// 256 MiB of memory, age's own default.
	DefaultWorkFactor = 18
	// DefaultMaxWorkFactor bounds the work a key file may demand when it is
	// opened, so a tampered file cannot make the server spend minutes and
	// gigabytes on one decryption.
	DefaultMaxWorkFactor = 22
)

// keySuffix ends the name of every encrypted key file.
const keySuffix = ".key.age"

var (
	_ keystore.Store            = (*Store)(nil)
	_ keystore.SignatureCounter = (*Store)(nil)
)

// Options configures Open.
type Options struct {
	// Dir is the key directory; it is created with mode 0700. Required.
	Dir string
	// Passphrase encrypts every key. Required. Open copies what it needs, so
	// the caller may overwrite the slice afterwards.
	Passphrase []byte
	// WorkFactor is the scrypt work factor for new keys; 0 means
	// DefaultWorkFactor. Tests use about 10.
	WorkFactor int
	// MaxWorkFactor is the highest work factor accepted when decrypting; 0
	// means DefaultMaxWorkFactor.
	MaxWorkFactor int
	// Now returns the creation time of new keys; nil means time.Now.
	Now func() time.Time
}

// Store implements keystore.Store with age-encrypted files.
type Store struct {
	dir       string
	recipient *age.ScryptRecipient
	identity  *age.ScryptIdentity
	now       func() time.Time

	// guard orders Delete against every other call, and Close against them all:
	// the others hold it shared, Delete and Close exclusively. Creates and
	// decryptions run concurrently under the shared lock, so a server starting
	// thousands of zones is not serialised on them.
	guard keyutil.Guard
	// cmu guards cache, the decrypted keys, for the holders of the shared guard;
	// Close clears it holding the guard exclusively.
	cmu   sync.Mutex
	cache map[string]*keyutil.Counting

	// kekMu guards kekState, the key-encryption key (see kek).
	kekMu    sync.Mutex
	kekState *kek
	kekReady atomic.Pointer[age.X25519Identity] // kekState's identity once unwrapped

	// imu guards idx, the metadata by zone (see index).
	imu sync.Mutex
	idx *index

	// decrypts folds concurrent first uses of one key into one scrypt run.
	decrypts singleflight.Group
	sigs     atomic.Uint64
}

// Open opens (creating if needed) the key directory described by opts.
func Open(opts Options) (*Store, error) {
	if len(opts.Passphrase) == 0 {
		return nil, errNoPassphrase
	}
	wf, maxWF := opts.WorkFactor, opts.MaxWorkFactor
	if wf == 0 {
		wf = DefaultWorkFactor
	}
	if maxWF == 0 {
		maxWF = DefaultMaxWorkFactor
	}
	if wf < 1 || wf > 30 || maxWF < wf || maxWF > 30 {
		return nil, fmt.Errorf("keystore: invalid scrypt work factors %d (max %d)", wf, maxWF)
	}
	// age takes the passphrase as a string; the conversion copies it.
	rcpt, err := age.NewScryptRecipient(string(opts.Passphrase))
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	rcpt.SetWorkFactor(wf)
	id, err := age.NewScryptIdentity(string(opts.Passphrase))
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	id.SetMaxWorkFactor(maxWF)
	if err := fsutil.PrepareDir(opts.Dir); err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{
		dir:       opts.Dir,
		recipient: rcpt,
		identity:  id,
		now:       now,
		cache:     make(map[string]*keyutil.Counting),
	}, nil
}

// Dir returns the key directory.
func (s *Store) Dir() string { return s.dir }

// Signatures implements keystore.SignatureCounter.
func (s *Store) Signatures() uint64 { return s.sigs.Load() }

func (s *Store) metaName(id string) string { return id + fsutil.MetaSuffix }
func (s *Store) keyName(id string) string  { return id + keySuffix }

// Create implements keystore.Store.
func (s *Store) Create(ctx context.Context, zone string, role keystore.Role, alg uint8) (keystore.Meta, error) {
	if err := s.guard.Check(ctx); err != nil {
		return keystore.Meta{}, err
	}
	z, err := keyutil.CheckCreate(zone, role, alg, keyutil.SupportedSoftware)
	if err != nil {
		return keystore.Meta{}, err
	}
	kek, err := s.kek(true)
	if err != nil {
		return keystore.Meta{}, err
	}
	key, sealed, err := keyutil.NewSealed(alg, kek.Recipient())
	if err != nil {
		return keystore.Meta{}, err
	}
	m := keyutil.NewMeta(z, role, alg, Backend, s.now())
	mj, err := fsutil.EncodeJSON(m)
	if err != nil {
		return keystore.Meta{}, err
	}

	if err := s.guard.RLock(ctx); err != nil {
		return keystore.Meta{}, err
	}
	defer s.guard.RUnlock()
	if err := s.write(m, sealed, mj); err != nil {
		return keystore.Meta{}, fmt.Errorf("keystore: %w", err)
	}
	s.cmu.Lock()
	s.cache[m.ID] = keyutil.NewCounting(key, &s.sigs)
	s.cmu.Unlock()
	return m, nil
}

// write writes a new key's two files, the key before its metadata, whose presence defines
// the key (package doc). Neither has an fsync of its own: keys made at once (a first start
// of thousands of zones) share barriers (atomicfile.Barrier, a syncfs). The key file is
// written under its final name, the metadata file under a temporary name; a barrier makes
// both durable; the metadata is renamed into place; a second barrier makes that durable
// before write returns. So after a crash of the machine at any point, a metadata file is
// whole and its key file whole (the data reached the disk before the rename that made the
// key exist); a key file without metadata, perhaps empty, is no key. Every change to the
// directory goes through changing, so the index stays valid. s.guard must be held (read).
func (s *Store) write(m keystore.Meta, sealed, mj []byte) error {
	var mt *atomicfile.Temp
	var err error
	keyWritten := false
	if err = s.changing(func() error {
		if err := atomicfile.WriteNew(s.dir, s.keyName(m.ID), sealed); err != nil {
			return err
		}
		keyWritten = true
		mt, err = atomicfile.CreateTemp(s.dir, s.metaName(m.ID))
		return err
	}, nil); err == nil {
		err = mt.WriteUnsynced(mj)
	}
	if err == nil {
		err = atomicfile.Barrier(s.dir)
	}
	if err == nil {
		err = s.changing(mt.Commit, func(idx *index) { idx.add(m) })
	}
	if err != nil {
		_ = s.changing(func() error {
			if mt != nil {
				mt.Discard()
			}
			if keyWritten {
				return atomicfile.Remove(s.dir, s.keyName(m.ID))
			}
			return nil
		}, nil)
		return err
	}
	return atomicfile.Barrier(s.dir)
}

// List implements keystore.Store. A metadata file that cannot be read or parsed is left
// out, and named in the *keystore.UnreadableError returned with the other keys: a key never
// disappears silently, and one damaged file does not hide every zone's keys.
func (s *Store) List(ctx context.Context, zone string) ([]keystore.Meta, error) {
	if err := s.guard.RLock(ctx); err != nil {
		return nil, err
	}
	defer s.guard.RUnlock()
	zone, err := keyutil.ZoneFilter(zone)
	if err != nil {
		return nil, err
	}
	return s.list(zone)
}

// Get implements keystore.Store.
func (s *Store) Get(ctx context.Context, id string) (keystore.Meta, error) {
	if err := s.guard.RLock(ctx); err != nil {
		return keystore.Meta{}, err
	}
	defer s.guard.RUnlock()
	if err := keyutil.CheckID(id); err != nil {
		return keystore.Meta{}, err
	}
	return s.readMeta(id)
}

// readMeta reads and validates id's metadata (a damaged file is a keyutil.EntryError, which
// a listing leaves out); s.guard must be held.
func (s *Store) readMeta(id string) (keystore.Meta, error) {
	var m keystore.Meta
	err := fsutil.ReadMeta(s.dir, id, &m, func(path string) error {
		if err := fsutil.CheckMeta(path, id, Backend, m); err != nil {
			return err
		}
		if !keyutil.SupportedSoftware(m.Algorithm) {
			return fmt.Errorf("keystore: metadata file %s: algorithm %d: %w", path, m.Algorithm, keystore.ErrUnsupportedAlgorithm)
		}
		return nil
	})
	if err != nil {
		return keystore.Meta{}, err
	}
	return m, nil
}

// Signer implements keystore.Store. The first call for a key decrypts it
// (one scrypt run); concurrent first calls share that run, and later calls
// are served from memory.
func (s *Store) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	if err := s.guard.Check(ctx); err != nil {
		return nil, err
	}
	if err := keyutil.CheckID(id); err != nil {
		return nil, err
	}
	if err := s.guard.RLock(ctx); err != nil {
		return nil, err
	}
	s.cmu.Lock()
	sg, ok := s.cache[id]
	s.cmu.Unlock()
	s.guard.RUnlock()
	if ok {
		return sg, nil
	}
	return keyutil.Shared(ctx, &s.decrypts, id, func() (*keyutil.Counting, error) { return s.load(id) })
}

// load decrypts id's key and caches it, unless the key was deleted or the
// store closed meanwhile.
func (s *Store) load(id string) (*keyutil.Counting, error) {
	// No caller's context: concurrent callers share this decryption, and one giving up
	// must not cancel it for the others.
	ctx := context.Background()
	// The metadata (for the algorithm) from the index when List has read it: at a start of
	// thousands of zones every key is listed first, and reading each metadata file again
	// cost a fifth of the decryption.
	m, ok := s.indexed(id)
	if !ok {
		if err := s.guard.RLock(ctx); err != nil {
			return nil, err
		}
		var err error
		m, err = s.readMeta(id)
		s.guard.RUnlock()
		if err != nil {
			return nil, err
		}
	}
	key, err := s.decrypt(id, m.Algorithm)
	if err != nil {
		return nil, err
	}
	// Shared: a Delete, which holds the guard exclusively, cannot run between the check
	// that the key still exists and its caching.
	if err := s.guard.RLock(ctx); err != nil {
		return nil, err
	}
	defer s.guard.RUnlock()
	if _, err := os.Stat(filepath.Join(s.dir, s.metaName(id))); err != nil {
		return nil, fmt.Errorf("key %q: deleted while loading: %w", id, keystore.ErrNotFound)
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if sg, ok := s.cache[id]; ok {
		return sg, nil
	}
	sg := keyutil.NewCounting(key, &s.sigs)
	s.cache[id] = sg
	return sg, nil
}

func (s *Store) decrypt(id string, alg uint8) (crypto.Signer, error) {
	der, err := s.unseal(id)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	key, err := keyutil.ParsePKCS8(der, alg)
	if err != nil {
		return nil, fmt.Errorf("keystore: %s: %w", filepath.Join(s.dir, s.keyName(id)), err)
	}
	return key, nil
}

// unseal decrypts id's key file and returns the key's PKCS #8 form, for the caller to wipe.
func (s *Store) unseal(id string) ([]byte, error) {
	path := filepath.Join(s.dir, s.keyName(id))
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("keystore: key file %s is missing (metadata exists)", path)
		}
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer f.Close()
	// Key files are sealed to the key-encryption key; older ones to the passphrase.
	ids := []age.Identity{s.identity}
	kek, err := s.kek(false)
	if err != nil {
		return nil, fmt.Errorf("keystore: key file %s: %w", path, err)
	}
	if kek != nil {
		ids = append([]age.Identity{kek}, ids...)
	}
	return keyutil.Unseal(f, path, ids...)
}

// Delete implements keystore.Store. It removes the metadata, then the
// encrypted key, and forgets the cached key.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := s.guard.Lock(ctx); err != nil {
		return err
	}
	defer s.guard.Unlock()
	if err := keyutil.CheckID(id); err != nil {
		return err
	}
	if err := fsutil.Exists(s.dir, id); err != nil {
		return err
	}
	s.cmu.Lock()
	delete(s.cache, id)
	s.cmu.Unlock()
	m, err := s.readMeta(id)
	if err != nil {
		// Unreadable metadata is removed all the same; the index is then read again.
		m = keystore.Meta{ID: id}
		s.imu.Lock()
		s.idx = nil
		s.imu.Unlock()
	}
	return s.changing(func() error {
		return fsutil.RemoveFiles(s.dir, s.metaName(id), s.keyName(id))
	}, func(idx *index) { idx.remove(m) })
}

// Close implements keystore.Store; it drops the decrypted keys from memory.
func (s *Store) Close() error {
	s.guard.Close(func() { s.cache = nil })
	return nil
}

var _ keystore.Exporter = (*Store)(nil)

// Export implements keystore.Exporter: the key file is decrypted in memory only, and the
// clear PKCS #8 bytes are wiped once use returns.
func (s *Store) Export(ctx context.Context, id string, use func(keystore.Meta, []byte) error) error {
	if err := s.guard.RLock(ctx); err != nil {
		return err
	}
	if err := keyutil.CheckID(id); err != nil {
		s.guard.RUnlock()
		return err
	}
	m, err := s.readMeta(id)
	s.guard.RUnlock()
	if err != nil {
		return err
	}
	der, err := s.unseal(id)
	if err != nil {
		return err
	}
	defer clear(der)
	// The bytes must be the key the metadata describes, as Signer checks too.
	if _, err := keyutil.ParsePKCS8(der, m.Algorithm); err != nil {
		return fmt.Errorf("keystore: key file of %s: %w", id, err)
	}
	return use(m, der)
}
