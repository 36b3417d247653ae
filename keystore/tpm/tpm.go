package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/internal/fsutil"
	"github.com/signetdns/signet/keystore/internal/keyutil"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// Backend is the value of Meta.Backend for keys held by this package.
const Backend = "tpm"

// Defaults for Options.
const (
	// DefaultDialTimeout bounds connecting to a socket device, so that Sign
	// fails fast when the TPM is gone.
	DefaultDialTimeout = 2 * time.Second
	// DefaultCommandTimeout is generous for one ECC command on a discrete
	// TPM (tens to hundreds of milliseconds) yet bounds a hung emulator.
	DefaultCommandTimeout = 5 * time.Second
)

const (
	authSuffix = ".auth"
	authSize   = 32 // the key's authValue; SHA-256's size, as Part 1 §19.6.4 suggests
	// maxLoaded bounds the keys kept loaded between signatures. swtpm and
	// many discrete TPMs have three object slots, and one is needed for the
	// storage key while loading.
	maxLoaded = 2
	// maxBusyRetries bounds retries of TPM_RC_RETRY, _YIELDED and _TESTING.
	maxBusyRetries = 5
)

var (
	_ keystore.Store            = (*Store)(nil)
	_ keystore.SignatureCounter = (*Store)(nil)
)

// Options configures Open.
type Options struct {
	// Dir holds the key blobs and metadata; created with mode 0700. Required.
	Dir string
	// Device is the TPM: "/dev/tpmrm0" (the default), "unix:/path" or
	// "tcp:host:port" for swtpm. See the package doc.
	Device string
	// DialTimeout bounds connecting to a socket device; 0 means
	// DefaultDialTimeout.
	DialTimeout time.Duration
	// CommandTimeout bounds one command on a socket device; 0 means
	// DefaultCommandTimeout.
	CommandTimeout time.Duration
	// Now returns the creation time of new keys; nil means time.Now.
	Now func() time.Time
}

// record is the content of a key's metadata file.
type record struct {
	keystore.Meta
	// SRKName is the name of the storage key the key was created under; a
	// different name at load time means another TPM or a cleared one.
	SRKName []byte `json:"srk_name"`
	// Public and Private are the marshalled TPM2B_PUBLIC and TPM2B_PRIVATE
	// that Create returned; Private is encrypted by the storage key.
	Public  []byte `json:"tpm_public"`
	Private []byte `json:"tpm_private"`
}

// Store implements keystore.Store with a TPM 2.0.
type Store struct {
	dir         string
	dev         device
	dialTimeout time.Duration
	cmdTimeout  time.Duration
	now         func() time.Time

	// guard guards the files, the signer cache and Close.
	guard   keyutil.Guard
	signers map[string]*signer

	// tpmLock is a one-slot semaphore (so waiting honours contexts) that
	// guards everything below it.
	tpmLock chan struct{}
	tpm     transport.TPMCloser // nil when not connected
	loaded  []loadedKey         // most recently used last

	sigs atomic.Uint64
}

type loadedKey struct {
	id     string
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
}

// Open opens the key directory; it does not connect to the TPM, which may be
// unreachable at this point (see the package doc).
func Open(opts Options) (*Store, error) {
	dev, err := parseDevice(opts.Device)
	if err != nil {
		return nil, err
	}
	if err := fsutil.PrepareDir(opts.Dir); err != nil {
		return nil, err
	}
	s := &Store{
		dir:         opts.Dir,
		dev:         dev,
		dialTimeout: opts.DialTimeout,
		cmdTimeout:  opts.CommandTimeout,
		now:         opts.Now,
		signers:     make(map[string]*signer),
		tpmLock:     make(chan struct{}, 1),
	}
	if s.dialTimeout <= 0 {
		s.dialTimeout = DefaultDialTimeout
	}
	if s.cmdTimeout <= 0 {
		s.cmdTimeout = DefaultCommandTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Dir returns the key directory.
func (s *Store) Dir() string { return s.dir }

// Signatures implements keystore.SignatureCounter.
func (s *Store) Signatures() uint64 { return s.sigs.Load() }

// Check connects to the TPM if needed and re-creates the storage key, which
// proves the TPM answers, and compares the storage key's name with the one
// every stored key was created under, which proves it holds the same seed: a
// TPM swapped for another (a new machine, a state directory copied, the owner
// hierarchy cleared) answers, but none of the keys would load into it. It
// suits a health check.
func (s *Store) Check(ctx context.Context) error {
	if err := s.guard.Check(ctx); err != nil {
		return err
	}
	var name []byte
	err := s.do(ctx, func(t transport.TPM) error {
		srk, err := createSRK(t)
		if err != nil {
			return err
		}
		name = srk.name.Buffer
		return flush(t, srk.handle)
	})
	if err != nil {
		return err
	}
	return s.sameTPM(name)
}

// sameTPM reports errForeignTPM, naming the first key concerned, when a stored
// key was created under a storage key other than srkName. A key whose metadata file
// cannot be read is left out: it fails on its own when used, and must not make the
// check, and with it every zone's KSK, fail.
func (s *Store) sameTPM(srkName []byte) error {
	if err := s.guard.RLock(context.Background()); err != nil {
		return err
	}
	defer s.guard.RUnlock()
	srks := map[string][]byte{}
	metas, err := fsutil.List(s.dir, "", func(id string) (keystore.Meta, error) {
		rec, err := s.readRecord(id)
		srks[id] = rec.SRKName
		return rec.Meta, err
	})
	var ue *keystore.UnreadableError
	if err != nil && !errors.As(err, &ue) {
		return err
	}
	for _, m := range metas {
		if !bytes.Equal(srks[m.ID], srkName) {
			return fmt.Errorf("keystore: key %s: %w", m.ID, errForeignTPM)
		}
	}
	return nil
}

func supported(alg uint8) bool { return alg == keystore.ECDSAP256SHA256 }

// Create implements keystore.Store.
func (s *Store) Create(ctx context.Context, zone string, role keystore.Role, alg uint8) (keystore.Meta, error) {
	if err := s.guard.Check(ctx); err != nil {
		return keystore.Meta{}, err
	}
	z, err := keyutil.CheckCreate(zone, role, alg, supported)
	if err != nil {
		return keystore.Meta{}, err
	}
	auth := make([]byte, authSize)
	_, _ = rand.Read(auth) // never fails, see crypto/rand.Read
	var rec record
	err = s.do(ctx, func(t transport.TPM) error {
		var err error
		rec.SRKName, rec.Public, rec.Private, err = createKey(t, auth)
		return err
	})
	if err != nil {
		return keystore.Meta{}, fmt.Errorf("keystore: create TPM key: %w", err)
	}
	rec.Meta = keyutil.NewMeta(z, role, alg, Backend, s.now())
	b, err := fsutil.EncodeJSON(rec)
	if err != nil {
		return keystore.Meta{}, err
	}
	if err := s.guard.Lock(ctx); err != nil {
		return keystore.Meta{}, err
	}
	defer s.guard.Unlock()
	// The authValue first: the metadata file is what makes the key exist.
	if err := fsutil.WriteAtomic(s.dir, rec.ID+authSuffix, auth); err != nil {
		return keystore.Meta{}, err
	}
	if err := fsutil.WriteAtomic(s.dir, rec.ID+fsutil.MetaSuffix, b); err != nil {
		_ = fsutil.RemoveFiles(s.dir, rec.ID+authSuffix)
		return keystore.Meta{}, err
	}
	return rec.Meta, nil
}

// List implements keystore.Store. A metadata file that cannot be read or parsed is left
// out, and named in the *keystore.UnreadableError returned with the other keys.
func (s *Store) List(ctx context.Context, zone string) ([]keystore.Meta, error) {
	if err := s.guard.RLock(ctx); err != nil {
		return nil, err
	}
	defer s.guard.RUnlock()
	return fsutil.List(s.dir, zone, func(id string) (keystore.Meta, error) {
		rec, err := s.readRecord(id)
		return rec.Meta, err
	})
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
	rec, err := s.readRecord(id)
	return rec.Meta, err
}

// readRecord reads and validates id's metadata file (a damaged file is a keyutil.EntryError,
// which a listing leaves out); s.guard must be held.
func (s *Store) readRecord(id string) (record, error) {
	var rec record
	err := fsutil.ReadMeta(s.dir, id, &rec, func(path string) error {
		if err := fsutil.CheckMeta(path, id, Backend, rec.Meta); err != nil {
			return err
		}
		if !supported(rec.Algorithm) {
			return fmt.Errorf("keystore: metadata file %s: algorithm %d: %w", path, rec.Algorithm, keystore.ErrUnsupportedAlgorithm)
		}
		if len(rec.SRKName) == 0 || len(rec.Public) == 0 || len(rec.Private) == 0 {
			return fmt.Errorf("keystore: corrupted metadata file %s: missing TPM blobs", path)
		}
		return nil
	})
	if err != nil {
		return record{}, err
	}
	return rec, nil
}

// Signer implements keystore.Store. It reads the key's files but does not
// touch the TPM: the key is loaded on first Sign.
func (s *Store) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	if err := s.guard.Lock(ctx); err != nil {
		return nil, err
	}
	defer s.guard.Unlock()
	if err := keyutil.CheckID(id); err != nil {
		return nil, err
	}
	if sg, ok := s.signers[id]; ok {
		return sg, nil
	}
	rec, err := s.readRecord(id)
	if err != nil {
		return nil, err
	}
	metaPath := filepath.Join(s.dir, id+fsutil.MetaSuffix)
	pub, public, private, err := parseBlobs(rec)
	if err != nil {
		return nil, fmt.Errorf("keystore: corrupted metadata file %s: %w", metaPath, err)
	}
	authPath := filepath.Join(s.dir, id+authSuffix)
	auth, err := os.ReadFile(authPath)
	if err != nil {
		return nil, fmt.Errorf("keystore: key %s: read authorization value: %w", id, err)
	}
	if len(auth) != authSize {
		return nil, fmt.Errorf("keystore: key %s: authorization file %s has %d bytes, want %d", id, authPath, len(auth), authSize)
	}
	sg := &signer{
		store: s, id: id, pub: pub,
		srkName: rec.SRKName, public: public, private: private,
		auth: auth, authPath: authPath,
	}
	s.signers[id] = sg
	return sg, nil
}

// Delete implements keystore.Store. It removes the metadata file, then the
// authorization value, and unloads the key if it is loaded. The TPM keeps
// nothing else: the key existed only as the blobs in the metadata file.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := s.guard.Lock(ctx); err != nil {
		return err
	}
	if err := keyutil.CheckID(id); err != nil {
		s.guard.Unlock()
		return err
	}
	if err := fsutil.Exists(s.dir, id); err != nil {
		s.guard.Unlock()
		return err
	}
	delete(s.signers, id)
	err := fsutil.RemoveFiles(s.dir, id+fsutil.MetaSuffix, id+authSuffix)
	s.guard.Unlock()
	if err != nil {
		return err
	}
	// Best effort: a key left loaded is flushed at the next reconnect or
	// evicted by a later load.
	if s.tryAcquire() {
		defer s.release()
		s.unload(id)
	}
	return nil
}

// Close implements keystore.Store: it flushes the loaded keys and closes the
// connection to the TPM.
func (s *Store) Close() error {
	if !s.guard.Close(func() { s.signers = nil }) {
		return nil
	}
	// Wait for a command in progress; each is bounded by its deadline.
	s.tpmLock <- struct{}{}
	defer s.release()
	if s.tpm == nil {
		return nil
	}
	for _, k := range s.loaded {
		_ = flush(s.tpm, k.handle)
	}
	s.loaded = nil
	err := s.tpm.Close()
	s.tpm = nil
	return err
}

// parseBlobs unmarshals a record's TPM blobs and checks that the public
// area is the kind of key this package creates.
func parseBlobs(rec record) (*ecdsa.PublicKey, tpm2.TPM2BPublic, tpm2.TPM2BPrivate, error) {
	public, err := tpm2.Unmarshal[tpm2.TPM2BPublic](rec.Public)
	if err != nil {
		return nil, tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, fmt.Errorf("TPM public blob: %w", err)
	}
	private, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](rec.Private)
	if err != nil {
		return nil, tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, fmt.Errorf("TPM private blob: %w", err)
	}
	pub, err := publicKey(public)
	if err != nil {
		return nil, tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, err
	}
	return pub, *public, *private, nil
}
