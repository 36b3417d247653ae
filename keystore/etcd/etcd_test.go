package etcd

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/storetest"
)

func identity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func open(t *testing.T, cli *clientv3.Client, prefix string, id *age.X25519Identity, recipients ...age.Recipient) *Store {
	t.Helper()
	if len(recipients) == 0 {
		recipients = []age.Recipient{id.Recipient()}
	}
	s, err := Open(Options{Client: cli, Prefix: prefix, Recipients: recipients, Identities: []age.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the keystore contract suite against a real etcd member, each store under
// its own prefix; a reopen is a new client and Store with the same identity.
func TestContract(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var n atomic.Int64
	id := identity(t)
	storetest.Run(t, func(t *testing.T) keystore.Store {
		return open(t, c.Client(t), fmt.Sprintf("/signet/k%d/", n.Add(1)), id)
	}, []uint8{13, 15, 8}, storetest.Reopen(func(t *testing.T, old keystore.Store) keystore.Store {
		prefix := strings.TrimSuffix(old.(*Store).prefix, "keys/")
		old.Close()
		return open(t, c.Client(t), prefix, id)
	}))
}

// TestCiphertextOnly: what etcd holds of a key is age ciphertext. The instance that made it
// and another instance among the recipients sign with it; an identity that is not a
// recipient cannot decrypt it (ErrWrongPassphrase), and the private key's PKCS#8 form
// appears nowhere in etcd.
func TestCiphertextOnly(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx := context.Background()
	a, b, outsider := identity(t), identity(t), identity(t)
	recipients := []age.Recipient{a.Recipient(), b.Recipient()}
	const prefix = "/signet/c/"
	sa := open(t, c.Client(t), prefix, a, recipients...)
	sb := open(t, c.Client(t), prefix, b, recipients...)
	so := open(t, c.Client(t), prefix, outsider)

	m, err := sa.Create(ctx, "example.test.", keystore.ZSK, 13)
	if err != nil {
		t.Fatal(err)
	}
	signA, err := sa.Signer(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	signB, err := sb.Signer(ctx, m.ID)
	if err != nil {
		t.Fatalf("another recipient's Signer: %v", err)
	}
	pa, _ := x509.MarshalPKIXPublicKey(signA.Public())
	pb, _ := x509.MarshalPKIXPublicKey(signB.Public())
	if !bytes.Equal(pa, pb) {
		t.Fatal("two instances see different public keys for one key")
	}
	if _, err := so.Signer(ctx, m.ID); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("an outsider's Signer: %v, want ErrWrongPassphrase", err)
	}

	resp, err := c.Client(t).Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	for _, kv := range resp.Kvs {
		if strings.HasSuffix(string(kv.Key), keySuffix) {
			sealed = kv.Value
		}
	}
	if !bytes.HasPrefix(sealed, []byte("age-encryption.org/v1\n")) {
		t.Fatalf("the key in etcd is not age ciphertext: %.40q", sealed)
	}
	if _, err := age.Decrypt(bytes.NewReader(sealed), outsider); err == nil {
		t.Fatal("an identity that is not a recipient decrypted the key")
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), b)
	if err != nil {
		t.Fatal(err)
	}
	der, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	scalar := priv.(interface{ Bytes() ([]byte, error) })
	d, err := scalar.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if bytes.Contains(kv.Value, der) || bytes.Contains(kv.Value, d) {
			t.Fatalf("%s holds the private key in clear", kv.Key)
		}
	}
}

// TestStaleLeaderCannotDelete: once guarded, a Delete by an instance that lost the election
// fails and the key stays, so a stale leader cannot take a key from under the new one.
func TestStaleLeaderCannotDelete(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id := identity(t)
	cli := c.Client(t)
	s := open(t, cli, "/signet/g/", id)
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(2))
	if err != nil {
		t.Fatal(err)
	}
	el := concurrency.NewElection(sess, "/signet/g/leader")
	if err := el.Campaign(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	s.Guard(el)
	m, err := s.Create(ctx, "example.test.", keystore.ZSK, 13)
	if err != nil {
		t.Fatalf("the leader's Create: %v", err)
	}
	sess.Orphan()
	if _, err := cli.Revoke(ctx, sess.Lease()); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, m.ID); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Delete after losing the election: %v, want ErrNotLeader", err)
	}
	if _, err := s.Create(ctx, "example.test.", keystore.ZSK, 13); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("Create after losing the election: %v, want ErrNotLeader", err)
	}
	if _, err := s.Get(ctx, m.ID); err != nil {
		t.Fatalf("the key is gone after a stale Delete: %v", err)
	}
}

// TestCacheDuringOutage: an instance restarted while etcd is down signs with the keys it used
// before, from its cache directory, which holds only ciphertext.
func TestCacheDuringOutage(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx := context.Background()
	id := identity(t)
	dir := filepath.Join(t.TempDir(), "cache")
	open := func() *Store {
		s, err := Open(Options{Client: c.Client(t), Prefix: "/signet/o/", Recipients: []age.Recipient{id.Recipient()},
			Identities: []age.Identity{id}, CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	m, err := open().Create(ctx, "example.test.", keystore.ZSK, 13)
	if err != nil {
		t.Fatal(err)
	}
	before, err := open().Signer(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, m.ID+keySuffix))
	if err != nil || !bytes.HasPrefix(b, []byte("age-encryption.org/v1\n")) {
		t.Fatalf("cached key %.30q (%v), want age ciphertext", b, err)
	}
	c.Stop(c.Members[0])
	start := time.Now()
	after, err := open().Signer(ctx, m.ID)
	if err != nil {
		t.Fatalf("Signer with etcd down: %v", err)
	}
	if time.Since(start) > 2*fetchTimeout {
		t.Errorf("Signer took %v with etcd down", time.Since(start))
	}
	pa, _ := x509.MarshalPKIXPublicKey(before.Public())
	pb, _ := x509.MarshalPKIXPublicKey(after.Public())
	if !bytes.Equal(pa, pb) {
		t.Fatal("the cached key is another key")
	}
	if _, err := open().Signer(ctx, "0123456789abcdef"); err == nil {
		t.Fatal("Signer of a key never cached succeeded with etcd down")
	}
}
