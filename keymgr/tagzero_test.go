package keymgr

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/memory"
)

// tagZeroKSK is a P-256 private key whose KSK DNSKEY (flags 257, algorithm 13) has key tag 0
// (found by drawing keys; the tag does not depend on the owner name).
const tagZeroKSK = "86deb794265de413392de014f22a02e6c80e79401568e422335e98b6874c7c80"

// tagZeroStore is the memory keystore whose first KSK is tagZeroKSK.
type tagZeroStore struct {
	*memory.Store
	mu   sync.Mutex
	zero string // the ID given tagZeroKSK, "" before the first KSK
	key  crypto.Signer
}

func (s *tagZeroStore) Create(ctx context.Context, zone string, role keystore.Role, alg uint8) (keystore.Meta, error) {
	m, err := s.Store.Create(ctx, zone, role, alg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && role == keystore.KSK && s.zero == "" {
		s.zero = m.ID
	}
	return m, err
}

func (s *tagZeroStore) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	s.mu.Lock()
	zero := s.zero
	s.mu.Unlock()
	if id == zero {
		if _, err := s.Store.Get(ctx, id); err != nil {
			return nil, err
		}
		return s.key, nil
	}
	return s.Store.Signer(ctx, id)
}

// TestKeyTagZeroReplaced: a new KSK whose key tag is 0 (miekg/dns cannot sign with it) is
// deleted and made again, so the quick start succeeds with a KSK that signs.
func TestKeyTagZeroReplaced(t *testing.T) {
	raw, _ := hex.DecodeString(tagZeroKSK)
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
	if err != nil {
		t.Fatal(err)
	}
	store := &tagZeroStore{Store: memory.New(), key: key}
	f := newFixture(t, t.TempDir(), memory.New(), &flakyStore{Store: memory.New()}, newClock(t0), func(c *Config) {
		c.TPM = nil
		c.Soft = store
	})
	if err := f.m.AddZone(context.Background(), testZone, ZonePolicy{QuickStart: true}); err != nil {
		t.Fatal(err)
	}
	ring, _, ok := f.m.Signing(testZone)
	if !ok {
		t.Fatal("not signed")
	}
	verifyRing(t, ring, t0)
	if store.zero == "" {
		t.Fatal("the tag-0 key was never made: the test proves nothing")
	}
	if _, err := store.Get(context.Background(), store.zero); err == nil {
		t.Error("the KSK with key tag 0 was kept in the store")
	}
	for _, k := range ring.Keys() {
		if k.Tag == 0 {
			t.Errorf("ring holds a key with tag 0 (KSK %v)", k.KSK)
		}
	}
}
