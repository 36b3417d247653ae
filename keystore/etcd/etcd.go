package etcd

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/singleflight"

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/internal/etcdguard"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/internal/keyutil"
)

// Backend is the Meta.Backend of this store's keys.
const Backend = "etcd"

// ErrNotLeader is returned (wrapped) by a guarded Create or Delete when this instance no
// longer holds the election it was guarded with: nothing was written.
var ErrNotLeader = etcdguard.ErrNotLeader

// fetchTimeout bounds a read of a key from etcd before the cache directory answers instead.
const fetchTimeout = 3 * time.Second

const (
	metaSuffix = ".json"
	keySuffix  = ".key.age"
	// rcptSuffix ends the key that lists the recipients a key's ciphertext is encrypted to
	// (their age1... strings, sorted, one a line): public data, compared with the configured
	// recipients without decrypting anything.
	rcptSuffix = ".recipients"
)

var (
	_ keystore.Store            = (*Store)(nil)
	_ keystore.SignatureCounter = (*Store)(nil)
)

// Options configures Open.
type Options struct {
	// Client is the etcd client; the Store does not close it.
	Client *clientv3.Client
	// Prefix starts every etcd key of the store, for example "/signet/<cluster>/".
	Prefix string
	// Recipients are the cluster's age recipients (every instance's X25519 public key, and
	// an offline backup key if the operator keeps one): new keys are encrypted to all.
	Recipients []age.Recipient
	// Identities decrypt the keys: this instance's X25519 identity.
	Identities []age.Identity
	// Now is the clock for Meta.Created; nil means time.Now.
	Now func() time.Time
	// CacheDir, when set, keeps a copy (ciphertext, 0600 in a 0700 directory) of every key
	// this instance signs with, read when etcd does not answer.
	CacheDir string
}

// Store keeps age-encrypted keys in etcd.
type Store struct {
	cli        *clientv3.Client
	prefix     string
	recipients atomic.Pointer[recipientSet]
	identities []age.Identity
	now        func() time.Time
	cacheDir   string

	guard  etcdguard.Guard
	closed atomic.Bool
	mu     sync.RWMutex
	cache  map[string]*keyutil.Counting // decrypted keys; nil once closed

	decrypts singleflight.Group
	sigs     atomic.Uint64
}

// Open returns the Store described by opts.
func Open(opts Options) (*Store, error) {
	if opts.Client == nil {
		return nil, errors.New("keystore: no etcd client")
	}
	if len(opts.Recipients) == 0 || len(opts.Identities) == 0 {
		return nil, errors.New("keystore: the etcd keystore needs the cluster's age recipients and this instance's identity")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if opts.CacheDir != "" {
		if err := atomicfile.PrepareDir(opts.CacheDir); err != nil {
			return nil, fmt.Errorf("keystore: %w", err)
		}
	}
	set, err := newRecipientSet(opts.Recipients)
	if err != nil {
		return nil, err
	}
	s := &Store{cli: opts.Client, prefix: opts.Prefix + "keys/",
		identities: opts.Identities, now: now, cacheDir: opts.CacheDir, cache: map[string]*keyutil.Counting{}}
	s.recipients.Store(set)
	return s, nil
}

// Guard makes every later Create and Delete conditional on l still being the election's
// winner; nil removes the guard.
func (s *Store) Guard(l etcdguard.Leader) { s.guard.Set(l) }

// Signatures implements keystore.SignatureCounter.
func (s *Store) Signatures() uint64 { return s.sigs.Load() }

func (s *Store) metaKey(id string) string { return s.prefix + id + metaSuffix }
func (s *Store) keyKey(id string) string  { return s.prefix + id + keySuffix }
func (s *Store) rcptKey(id string) string { return s.prefix + id + rcptSuffix }

// Create implements keystore.Store.
func (s *Store) Create(ctx context.Context, zone string, role keystore.Role, alg uint8) (keystore.Meta, error) {
	if err := s.check(ctx); err != nil {
		return keystore.Meta{}, err
	}
	z, err := keyutil.CheckCreate(zone, role, alg, keyutil.SupportedSoftware)
	if err != nil {
		return keystore.Meta{}, err
	}
	rs := s.recipients.Load()
	key, sealed, err := keyutil.NewSealed(alg, rs.list...)
	if err != nil {
		return keystore.Meta{}, err
	}
	m := keyutil.NewMeta(z, role, alg, Backend, s.now())
	mj, err := json.Marshal(m)
	if err != nil {
		return keystore.Meta{}, fmt.Errorf("keystore: encode metadata: %w", err)
	}
	err = s.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.metaKey(m.ID)), "=", 0)},
		clientv3.OpPut(s.metaKey(m.ID), string(mj)), clientv3.OpPut(s.keyKey(m.ID), string(sealed)), clientv3.OpPut(s.rcptKey(m.ID), rs.names))
	if err != nil {
		return keystore.Meta{}, err
	}
	s.keep(m.ID, mj, sealed)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil {
		return keystore.Meta{}, keystore.ErrClosed
	}
	s.cache[m.ID] = keyutil.NewCounting(key, &s.sigs)
	return m, nil
}

// txn commits ops if cmps and the guard (if any) hold; a failed comparison of cmps is
// errConflict.
func (s *Store) txn(ctx context.Context, cmps []clientv3.Cmp, ops ...clientv3.Op) error {
	ok, _, err := s.guard.Commit(ctx, s.cli, cmps, ops...)
	switch {
	case errors.Is(err, ErrNotLeader):
		return fmt.Errorf("keystore: %w", err)
	case err != nil:
		return fmt.Errorf("keystore: etcd: %w", err)
	case !ok:
		return errConflict
	}
	return nil
}

// errConflict: the key the transaction compared changed (a random ID collided, or the key
// was deleted meanwhile).
var errConflict = errors.New("keystore: etcd key changed during the operation")

// List implements keystore.Store, with one read of every key of the store. A metadata value
// that cannot be decoded or validated is left out, and named in the
// *keystore.UnreadableError returned with the other keys.
func (s *Store) List(ctx context.Context, zone string) ([]keystore.Meta, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	zone, err := keyutil.ZoneFilter(zone)
	if err != nil {
		return nil, err
	}
	resp, err := s.cli.Get(ctx, s.prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("keystore: etcd: %w", err)
	}
	metas := map[string][]byte{}
	var ids []string
	var bad []keystore.Unreadable
	for _, kv := range resp.Kvs {
		k := string(kv.Key)
		if id, ok := strings.CutSuffix(strings.TrimPrefix(k, s.prefix), metaSuffix); ok {
			if !keyutil.ValidID(id) {
				bad = append(bad, keystore.Unreadable{Where: k, Err: fmt.Errorf("keystore: unexpected metadata key %s: not <prefix>keys/<key id>%s", k, metaSuffix)})
				continue
			}
			metas[id] = kv.Value
			ids = append(ids, id)
		}
	}
	return keyutil.Collect(zone, ids, bad, func(id string) (keystore.Meta, error) { return s.decodeMeta(id, metas[id]) })
}

// Get implements keystore.Store.
func (s *Store) Get(ctx context.Context, id string) (keystore.Meta, error) {
	if err := s.check(ctx); err != nil {
		return keystore.Meta{}, err
	}
	if err := keyutil.CheckID(id); err != nil {
		return keystore.Meta{}, err
	}
	return s.readMeta(ctx, id)
}

func (s *Store) readMeta(ctx context.Context, id string) (keystore.Meta, error) {
	resp, err := s.cli.Get(ctx, s.metaKey(id))
	if err != nil {
		return keystore.Meta{}, fmt.Errorf("keystore: etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return keystore.Meta{}, fmt.Errorf("key %q: %w", id, keystore.ErrNotFound)
	}
	return s.decodeMeta(id, resp.Kvs[0].Value)
}

// decodeMeta decodes and validates id's metadata value b; a damaged one is a
// keyutil.EntryError, which a listing leaves out.
func (s *Store) decodeMeta(id string, b []byte) (keystore.Meta, error) {
	var m keystore.Meta
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return keystore.Meta{}, keyutil.BadEntry(s.metaKey(id), b, fmt.Errorf("keystore: corrupted metadata %s: %w", s.metaKey(id), err))
	}
	if dec.More() {
		return keystore.Meta{}, keyutil.BadEntry(s.metaKey(id), b, fmt.Errorf("keystore: corrupted metadata %s: trailing data", s.metaKey(id)))
	}
	if err := keyutil.Validate(m); err != nil || m.ID != id || m.Backend != Backend {
		return keystore.Meta{}, keyutil.BadEntry(s.metaKey(id), b, fmt.Errorf("keystore: corrupted metadata %s (id %q, backend %q): %v", s.metaKey(id), m.ID, m.Backend, err))
	}
	return m, nil
}

// Signer implements keystore.Store: the key is fetched and decrypted once, then served from
// memory.
func (s *Store) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if err := keyutil.CheckID(id); err != nil {
		return nil, err
	}
	s.mu.RLock()
	sg, ok := s.cache[id]
	s.mu.RUnlock()
	if ok {
		return sg, nil
	}
	return keyutil.Shared(ctx, &s.decrypts, id, func() (*keyutil.Counting, error) { return s.load(ctx, id) })
}

func (s *Store) load(ctx context.Context, id string) (*keyutil.Counting, error) {
	meta, sealed, err := s.fetch(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := s.decodeMeta(id, meta)
	if err != nil {
		return nil, err
	}
	key, err := s.decrypt(id, sealed, m.Algorithm)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil {
		return nil, keystore.ErrClosed
	}
	if sg, ok := s.cache[id]; ok {
		return sg, nil
	}
	sg := keyutil.NewCounting(key, &s.sigs)
	s.cache[id] = sg
	return sg, nil
}

// fetch reads a key's metadata and sealed form from etcd and copies them to the cache
// directory; when etcd does not answer, it reads them from the cache directory, so that an
// instance restarted during an etcd outage still signs with the keys it had.
func (s *Store) fetch(ctx context.Context, id string) (meta, sealed []byte, err error) {
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	resp, err := s.cli.Txn(fctx).Then(clientv3.OpGet(s.metaKey(id)), clientv3.OpGet(s.keyKey(id))).Commit()
	if err != nil {
		if s.cacheDir == "" || ctx.Err() != nil {
			return nil, nil, fmt.Errorf("keystore: etcd: %w", err)
		}
		meta, merr := os.ReadFile(filepath.Join(s.cacheDir, id+metaSuffix))
		sealed, kerr := os.ReadFile(filepath.Join(s.cacheDir, id+keySuffix))
		if merr != nil || kerr != nil {
			return nil, nil, fmt.Errorf("keystore: etcd: %w (and no local copy of key %s)", err, id)
		}
		return meta, sealed, nil
	}
	mk, kk := resp.Responses[0].GetResponseRange().GetKvs(), resp.Responses[1].GetResponseRange().GetKvs()
	if len(mk) == 0 {
		return nil, nil, fmt.Errorf("key %q: %w", id, keystore.ErrNotFound)
	}
	if len(kk) == 0 {
		return nil, nil, fmt.Errorf("keystore: %s is missing (metadata exists)", s.keyKey(id))
	}
	s.keep(id, mk[0].Value, kk[0].Value)
	return mk[0].Value, kk[0].Value, nil
}

// keep copies a key's metadata and sealed form (ciphertext) to the cache directory, if any.
// A failure costs only the ability to sign with the key during an etcd outage after a
// restart, so it does not fail the call.
func (s *Store) keep(id string, meta, sealed []byte) {
	if s.cacheDir == "" {
		return
	}
	if err := atomicfile.Write(s.cacheDir, id+keySuffix, sealed); err == nil {
		_ = atomicfile.Write(s.cacheDir, id+metaSuffix, meta)
	}
}

// decrypt opens a sealed key with this instance's identity. The errors name the etcd key,
// never anything of its contents.
func (s *Store) decrypt(id string, sealed []byte, alg uint8) (crypto.Signer, error) {
	key, err := keyutil.OpenSealed(bytes.NewReader(sealed), s.keyKey(id), alg, s.identities...)
	if errors.Is(err, keystore.ErrWrongPassphrase) {
		return nil, fmt.Errorf("keystore: not encrypted to this instance's identity (add its recipient to every instance's cluster.recipients: the key leader then encrypts the keys to it again): %w", err)
	}
	return key, err
}

// Delete implements keystore.Store.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if err := keyutil.CheckID(id); err != nil {
		return err
	}
	err := s.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(s.metaKey(id)), ">", 0)},
		clientv3.OpDelete(s.metaKey(id)), clientv3.OpDelete(s.keyKey(id)), clientv3.OpDelete(s.rcptKey(id)))
	if errors.Is(err, errConflict) {
		return fmt.Errorf("key %q: %w", id, keystore.ErrNotFound)
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
	if s.cacheDir != "" {
		_ = atomicfile.Remove(s.cacheDir, id+metaSuffix, id+keySuffix)
	}
	return nil
}

// Close implements keystore.Store; it forgets the decrypted keys and leaves the client open.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache = nil
	return nil
}

// check fails a call made with a done context or after Close.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return keystore.ErrClosed
	}
	return ctx.Err()
}
