package cluster

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore"
	etcdkeys "github.com/signetdns/signet/keystore/etcd"
	"github.com/signetdns/signet/keystore/file"
	"github.com/signetdns/signet/statestore"
	etcdstate "github.com/signetdns/signet/statestore/etcd"
	filestate "github.com/signetdns/signet/statestore/file"
)

// single is a single server's state directory, as keymgr's quick start leaves it.
type single struct {
	dir   string
	keys  *file.Store
	local *filestate.Store
}

func newSingle(t *testing.T, zones ...string) *single {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	keys, err := file.Open(file.Options{Dir: filepath.Join(dir, "keys"), Passphrase: []byte("passphrase"), WorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	local, err := filestate.Open(filepath.Join(dir, "zones"))
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := keymgr.New(keymgr.Config{State: local, Soft: keys, KSKCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range zones {
		if err := mgr.AddZone(context.Background(), z, policy); err != nil {
			t.Fatal(err)
		}
	}
	return &single{dir: dir, keys: keys, local: local}
}

func (s *single) joinConfig(cli *clientv3.Client, shared *etcdkeys.Store, zones ...string) JoinConfig {
	return JoinConfig{Client: cli, Prefix: prefix, Zones: zones, Local: s.local, Keys: s.keys,
		Shared: etcdstate.New(cli, prefix), SharedKeys: shared, SharedBackend: etcdkeys.Backend}
}

// TestJoin: a single server's two zones go to etcd, one transaction each. A zone etcd already
// holds differently stops the join there (the zone before it imported, nothing overwritten);
// once that is cleared, the join run again completes, skipping the zone imported before; a
// third run has nothing left to do. The ZSKs in etcd are age ciphertext that an identity
// outside the recipients cannot open and that holds the key in clear nowhere, the KSKs are
// not in etcd, and the state directory holds no file readable by others and no temporary
// file. A member's stores serve the single server's keys.
func TestJoin(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const other = "other.test."
	s := newSingle(t, zone, other)
	member, outsider := mustIdentity(t), mustIdentity(t)
	shared, err := etcdkeys.Open(etcdkeys.Options{Client: cli, Prefix: prefix, Recipients: []age.Recipient{member.Recipient()},
		Identities: []age.Identity{member}})
	if err != nil {
		t.Fatal(err)
	}
	state := etcdstate.New(cli, prefix)

	// etcd holds another state of the second zone: the first is imported, the second refused.
	if _, err := state.Save(ctx, other, statestore.KeyState, []byte(`{"another":"state"}`), 0); err != nil {
		t.Fatal(err)
	}
	joined, err := Join(ctx, s.joinConfig(cli, shared, zone, other))
	if err == nil || !strings.Contains(err.Error(), "zone "+other) || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("a join over another state of %s: %v", other, err)
	}
	if len(joined) != 1 || joined[0].Outcome != JoinImported || joined[0].ZSKs != 1 {
		t.Fatalf("joined %+v, want %s imported with its ZSK", joined, zone)
	}
	if b, _, _ := state.Load(ctx, other, statestore.KeyState); string(b) != `{"another":"state"}` {
		t.Fatalf("the state etcd held of %s was overwritten: %s", other, b)
	}
	if err := state.Delete(ctx, other, statestore.KeyState, revOf(t, state, other)); err != nil {
		t.Fatal(err)
	}
	joined, err = Join(ctx, s.joinConfig(cli, shared, zone, other))
	if err != nil || len(joined) != 2 || joined[0].Outcome != JoinedBefore || joined[1].Outcome != JoinImported {
		t.Fatalf("the join run again: %+v, %v; want %s imported before and %s imported", joined, err, zone, other)
	}
	if _, err := Join(ctx, s.joinConfig(cli, shared, zone, other)); !errors.Is(err, ErrJoined) {
		t.Fatalf("a third join: %v, want ErrJoined", err)
	}

	// What etcd holds of the keys: the ZSKs only, as ciphertext.
	for _, z := range []string{zone, other} {
		metas, err := s.keys.List(ctx, z)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metas {
			sg, err := shared.Signer(ctx, m.ID)
			if m.Role == keystore.KSK {
				if !errors.Is(err, keystore.ErrNotFound) {
					t.Errorf("the KSK %s of %s in etcd: %v", m.ID, z, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("a member's Signer of the imported ZSK %s: %v", m.ID, err)
			}
			local, _ := s.keys.Signer(ctx, m.ID)
			pa, _ := x509.MarshalPKIXPublicKey(sg.Public())
			pb, _ := x509.MarshalPKIXPublicKey(local.Public())
			if !bytes.Equal(pa, pb) {
				t.Fatalf("the ZSK %s in etcd is another key", m.ID)
			}
			checkCiphertext(t, cli, m.ID, s.keys, outsider)
		}
	}
	checkPrivate(t, s.dir)

	// The state directory is now a member's copy: its KSKs are the member's own.
	b, _, err := s.local.Load(ctx, zone, statestore.KeyState)
	if err != nil || !strings.Contains(string(b), `"store": "local"`) {
		t.Fatalf("the state directory's copy of %s after the join: %v\n%s", zone, err, b)
	}
	// Such a copy is not a single server's: into an empty etcd, it is refused.
	if _, err := cli.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if _, err := Join(ctx, s.joinConfig(cli, shared, zone)); !errors.Is(err, keymgr.ErrMemberCopy) || !strings.Contains(err.Error(), zone) {
		t.Fatalf("a join of a member's copy: %v, want ErrMemberCopy naming %s", err, zone)
	}
}

// TestJoinRefusedWhileLeading: with an instance leading the cluster, a join writes nothing
// and names it.
func TestJoinRefusedWhileLeading(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := newSingle(t, zone)
	id := mustIdentity(t)
	shared, err := etcdkeys.Open(etcdkeys.Options{Client: cli, Prefix: prefix, Recipients: []age.Recipient{id.Recipient()},
		Identities: []age.Identity{id}})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := concurrency.NewElection(sess, prefix+"leader").Campaign(ctx, "ns9"); err != nil {
		t.Fatal(err)
	}
	if _, err := Join(ctx, s.joinConfig(cli, shared, zone)); err == nil || !strings.Contains(err.Error(), `"ns9" leads`) {
		t.Fatalf("a join while ns9 leads: %v", err)
	}
	resp, err := cli.Get(ctx, prefix+"zones/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != 0 {
		t.Fatalf("a refused join wrote %d documents (%v)", resp.Count, err)
	}
}

func mustIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func revOf(t *testing.T, s *etcdstate.Store, z string) statestore.Revision {
	t.Helper()
	_, rev, err := s.Load(context.Background(), z, statestore.KeyState)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// checkCiphertext: etcd's copy of key id is age ciphertext the outsider cannot open, and no
// value in etcd holds the key's PKCS #8 form (as the local keystore exports it).
func checkCiphertext(t *testing.T, cli *clientv3.Client, id string, local keystore.Exporter, outsider age.Identity) {
	t.Helper()
	ctx := context.Background()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var der []byte
	if err := local.Export(ctx, id, func(_ keystore.Meta, b []byte) error { der = bytes.Clone(b); return nil }); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, kv := range resp.Kvs {
		if bytes.Contains(kv.Value, der) {
			t.Errorf("%s holds the private key of %s in clear", kv.Key, id)
		}
		if string(kv.Key) != prefix+"keys/"+id+".key.age" {
			continue
		}
		found = true
		if !bytes.HasPrefix(kv.Value, []byte("age-encryption.org/v1\n")) {
			t.Errorf("%s is not age ciphertext", kv.Key)
		}
		if _, err := age.Decrypt(bytes.NewReader(kv.Value), outsider); err == nil {
			t.Errorf("an identity outside the recipients opens %s", kv.Key)
		}
	}
	if !found {
		t.Errorf("no ciphertext of %s in etcd", id)
	}
}

// checkPrivate: every file under dir is its owner's only, and no temporary file is left.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", p, fi.Mode())
		}
		if n := d.Name(); strings.Contains(n, ".tmp") || (strings.HasPrefix(n, ".") && n != ".lock") {
			t.Errorf("%s: a temporary file left behind", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
