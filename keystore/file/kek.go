package file

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/keystore"
)

// kekName is the file, in the key directory, that holds the key-encryption key: an age X25519
// identity, itself encrypted with the passphrase (scrypt). Key files are encrypted to that
// identity's recipient, so a process runs scrypt once (opening kek.age) however many keys it
// loads or creates: with a passphrase's scrypt on every key file, ten thousand zones cost
// hours at the default work factor. The keys stay encrypted at rest, under the passphrase.
const kekName = "kek.age"

// kek is the key-encryption key, unwrapped at most once per Store (the first Create, or the
// first Signer of a key file sealed to it).
type kek struct {
	once     sync.Once
	identity *age.X25519Identity
	err      error
}

// get returns the key-encryption key, creating kek.age when create is set and there is none;
// without create, a missing kek.age gives a nil identity (key files from before it exists
// are sealed to the passphrase).
func (s *Store) kek(create bool) (*age.X25519Identity, error) {
	// Once unwrapped it stays: no lock nor look at the file for each of thousands of keys.
	if id := s.kekReady.Load(); id != nil {
		return id, nil
	}
	s.kekMu.Lock()
	defer s.kekMu.Unlock()
	if s.kekState == nil {
		s.kekState = &kek{}
	}
	k := s.kekState
	path := filepath.Join(s.dir, kekName)
	if !create {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	k.once.Do(func() { k.identity, k.err = s.openKEK(path) })
	if k.err != nil {
		// A later call may succeed (a missing file created by then, a transient read error):
		// only success is kept.
		s.kekState = nil
	} else {
		s.kekReady.Store(k.identity)
	}
	return k.identity, k.err
}

// openKEK reads kek.age, or creates it when it does not exist. Two processes creating it at
// once both end up with the one that was linked into place first.
func (s *Store) openKEK(path string) (*age.X25519Identity, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s.createKEK(path)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return s.unsealKEK(bytes.NewReader(b), path)
}

func (s *Store) unsealKEK(r io.Reader, path string) (*age.X25519Identity, error) {
	dr, err := age.Decrypt(r, s.identity)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, fmt.Errorf("decrypt %s: %w", path, keystore.ErrWrongPassphrase)
		}
		return nil, fmt.Errorf("keystore: decrypt %s: corrupted or not an age file of this kind: %w", path, err)
	}
	text, err := io.ReadAll(dr)
	if err != nil {
		return nil, fmt.Errorf("keystore: decrypt %s: corrupted or truncated: %w", path, err)
	}
	defer clear(text)
	id, err := age.ParseX25519Identity(strings.TrimSpace(string(text)))
	if err != nil {
		// age's message would quote the secret: say only what is wrong.
		return nil, fmt.Errorf("keystore: %s does not hold an age X25519 identity", path)
	}
	return id, nil
}

func (s *Store) createKEK(path string) (*age.X25519Identity, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, fmt.Errorf("keystore: generate key-encryption key: %w", err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, s.recipient)
	if err == nil {
		_, err = io.WriteString(w, id.String()+"\n")
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: encrypt key-encryption key: %w", err)
	}
	// Written under a temporary name, then linked to kek.age, which fails if another process
	// made one meanwhile: then theirs is the one, since keys may already be sealed to it.
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	tmp := ".kek-" + hex.EncodeToString(rnd[:])
	if err := atomicfile.Write(s.dir, tmp, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer os.Remove(filepath.Join(s.dir, tmp))
	if err := os.Link(filepath.Join(s.dir, tmp), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return s.openKEK(path)
		}
		return nil, fmt.Errorf("keystore: %w", err)
	}
	if err := atomicfile.SyncDir(s.dir); err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return id, nil
}

// CheckPassphrase opens the key-encryption key now, when the directory has one, so that a
// wrong passphrase stops a server's start with a clear error (keystore.ErrWrongPassphrase)
// rather than showing later as every key failing. The key stays open for the keys to use. A
// directory without one (no key made yet) has nothing to check.
func (s *Store) CheckPassphrase() error {
	_, err := s.kek(false)
	return err
}
