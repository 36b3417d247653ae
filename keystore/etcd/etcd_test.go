package etcd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// TestImportOps: an imported ZSK keeps its ID and creation time, is age ciphertext to the
// recipients, and signs like the original; a KSK is refused (KSKs never go to etcd), and a
// second import of the same ID fails its comparison.
func TestImportOps(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx := context.Background()
	cli := c.Client(t)
	id := identity(t)
	s := open(t, cli, "/signet/i/", id)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	m := keystore.Meta{ID: "0123456789abcdef", Zone: "example.test.", Role: keystore.ZSK, Algorithm: 13, Backend: "software",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if _, _, err := s.ImportOps(keystore.Meta{ID: m.ID, Zone: m.Zone, Role: keystore.KSK, Algorithm: 13, Backend: "software", Created: m.Created}, der); err == nil {
		t.Fatal("ImportOps took a KSK")
	}
	for i := range 2 {
		cmps, ops, err := s.ImportOps(m, der)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		if err != nil {
			t.Fatal(err)
		}
		if resp.Succeeded != (i == 0) {
			t.Fatalf("import %d: succeeded %v", i+1, resp.Succeeded)
		}
	}
	got, err := s.Get(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Created != m.Created || got.Backend != Backend || got.Role != keystore.ZSK {
		t.Fatalf("imported metadata %+v", got)
	}
	sg, err := s.Signer(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sg.Public().(*ecdsa.PublicKey).Equal(&key.PublicKey) {
		t.Fatal("the imported key is another key")
	}
}

// TestReencrypt: keys made before a member was added are encrypted again to the new
// recipients by the leader, and the new member reads them; a removed member cannot read
// the new ciphertext. A second pass finds every recipients record current and writes
// nothing, and Changes reported the new ciphertext.
func TestReencrypt(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := c.Client(t)
	a, b, gone := identity(t), identity(t), identity(t)
	const prefix = "/signet/r/"
	leader := open(t, cli, prefix, a, a.Recipient(), gone.Recipient())
	var ids []string
	for range 2 {
		m, err := leader.Create(ctx, "example.test.", keystore.ZSK, 13)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	newcomer := open(t, cli, prefix, b, a.Recipient(), b.Recipient())
	if _, err := newcomer.Signer(ctx, ids[0]); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("a new member's Signer before the re-encryption: %v", err)
	}
	changes := newcomer.Changes(ctx)
	if n, err := leader.Reencrypt(ctx); n != 0 || err != nil {
		t.Fatalf("Reencrypt with the recipients unchanged: %d, %v", n, err)
	}
	if err := leader.SetRecipients([]age.Recipient{b.Recipient(), a.Recipient()}); err != nil {
		t.Fatal(err)
	}
	if n, err := leader.Reencrypt(ctx); n != 2 || err != nil {
		t.Fatalf("Reencrypt after a member was added and one removed: %d, %v; want 2 keys", n, err)
	}
	select {
	case <-changes:
	case <-ctx.Done():
		t.Fatal("Changes did not report the new ciphertext")
	}
	for _, id := range ids {
		if _, err := newcomer.Signer(ctx, id); err != nil {
			t.Fatalf("the new member's Signer of %s after the re-encryption: %v", id, err)
		}
		resp, err := cli.Get(ctx, prefix+"keys/"+id+keySuffix)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := age.Decrypt(bytes.NewReader(resp.Kvs[0].Value), gone); err == nil {
			t.Errorf("a removed member still opens the new ciphertext of %s", id)
		}
		rec, err := cli.Get(ctx, prefix+"keys/"+id+rcptSuffix)
		if err != nil || len(rec.Kvs) != 1 {
			t.Fatalf("recipients record of %s: %v", id, err)
		}
		if want := strings.Join(sortedNames(a, b), "\n"); string(rec.Kvs[0].Value) != want {
			t.Errorf("recipients record of %s: %q, want %q", id, rec.Kvs[0].Value, want)
		}
	}
	if n, err := leader.Reencrypt(ctx); n != 0 || err != nil {
		t.Fatalf("a second Reencrypt: %d, %v; want nothing to do", n, err)
	}
	// An instance that cannot read the keys cannot encrypt them again: an error naming one.
	if _, err := open(t, cli, prefix, gone, gone.Recipient()).Reencrypt(ctx); err == nil || !strings.Contains(err.Error(), ids[0]) {
		t.Fatalf("Reencrypt by an instance that cannot read the keys: %v", err)
	}
}

func sortedNames(ids ...*age.X25519Identity) []string {
	var out []string
	for _, id := range ids {
		out = append(out, id.Recipient().String())
	}
	slices.Sort(out)
	return out
}
