package memory

import (
	"context"
	"crypto"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/internal/keyutil"
)

// Backend is the value of Meta.Backend for keys held by this package.
const Backend = "memory"

var (
	_ keystore.Store            = (*Store)(nil)
	_ keystore.SignatureCounter = (*Store)(nil)
)

// Store implements keystore.Store in memory.
type Store struct {
	// Now returns the creation time of new keys; nil means time.Now. Set it
	// before first use.
	Now func() time.Time

	guard keyutil.Guard // the keys and Close
	keys  map[string]entry
	sigs  atomic.Uint64
}

type entry struct {
	meta   keystore.Meta
	signer *keyutil.Counting
}

// New returns an empty Store.
func New() *Store {
	return &Store{keys: make(map[string]entry)}
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Create implements keystore.Store.
func (s *Store) Create(ctx context.Context, zone string, role keystore.Role, alg uint8) (keystore.Meta, error) {
	if err := ctx.Err(); err != nil {
		return keystore.Meta{}, err
	}
	z, err := keyutil.CheckCreate(zone, role, alg, keyutil.SupportedSoftware)
	if err != nil {
		return keystore.Meta{}, err
	}
	key, err := keyutil.GenerateSoftware(alg)
	if err != nil {
		return keystore.Meta{}, fmt.Errorf("keystore: generate key: %w", err)
	}
	m := keyutil.NewMeta(z, role, alg, Backend, s.now())
	if err := s.guard.Lock(ctx); err != nil {
		return keystore.Meta{}, err
	}
	defer s.guard.Unlock()
	s.keys[m.ID] = entry{meta: m, signer: keyutil.NewCounting(key, &s.sigs)}
	return m, nil
}

// List implements keystore.Store.
func (s *Store) List(ctx context.Context, zone string) ([]keystore.Meta, error) {
	if err := s.guard.RLock(ctx); err != nil {
		return nil, err
	}
	defer s.guard.RUnlock()
	zone, err := keyutil.ZoneFilter(zone)
	if err != nil {
		return nil, err
	}
	var out []keystore.Meta
	for _, e := range s.keys {
		if zone == "" || e.meta.Zone == zone {
			out = append(out, e.meta)
		}
	}
	keyutil.Sort(out)
	return out, nil
}

func (s *Store) get(ctx context.Context, id string) (entry, error) {
	if err := s.guard.RLock(ctx); err != nil {
		return entry{}, err
	}
	defer s.guard.RUnlock()
	e, ok := s.keys[id]
	if !ok {
		return entry{}, fmt.Errorf("key %q: %w", id, keystore.ErrNotFound)
	}
	return e, nil
}

// Get implements keystore.Store.
func (s *Store) Get(ctx context.Context, id string) (keystore.Meta, error) {
	e, err := s.get(ctx, id)
	return e.meta, err
}

// Signer implements keystore.Store.
func (s *Store) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	e, err := s.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return e.signer, nil
}

// Delete implements keystore.Store.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := s.guard.Lock(ctx); err != nil {
		return err
	}
	defer s.guard.Unlock()
	if _, ok := s.keys[id]; !ok {
		return fmt.Errorf("key %q: %w", id, keystore.ErrNotFound)
	}
	delete(s.keys, id)
	return nil
}

// Close implements keystore.Store; it drops every key.
func (s *Store) Close() error {
	s.guard.Close(func() { s.keys = nil })
	return nil
}

// Signatures implements keystore.SignatureCounter.
func (s *Store) Signatures() uint64 { return s.sigs.Load() }
