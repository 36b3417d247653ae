package storetest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"

	"github.com/miekg/dns"
)

// Option adjusts Run.
type Option func(*config)

type config struct {
	reopen func(t *testing.T, old keystore.Store) keystore.Store
}

// Reopen declares that the backend persists keys. f must close old and
// return a new Store over the same storage; Run then checks that keys,
// metadata and public keys survive and that the reopened store signs.
func Reopen(f func(t *testing.T, old keystore.Store) keystore.Store) Option {
	return func(c *config) { c.reopen = f }
}

// dirStore is implemented by backends that keep keys in a directory; Run
// checks the directory is 0700 and every file in it 0600.
type dirStore interface {
	Dir() string
}

// Run runs the contract suite. newStore must return a fresh, empty store and
// arrange (t.Cleanup) for it to be closed; algs lists the DNSSEC algorithms
// the backend supports, the first one being used where any will do.
func Run(t *testing.T, newStore func(t *testing.T) keystore.Store, algs []uint8, opts ...Option) {
	t.Helper()
	if len(algs) == 0 {
		t.Fatal("storetest: no algorithms")
	}
	var c config
	for _, o := range opts {
		o(&c)
	}
	tests := []struct {
		name string
		run  func(t *testing.T, newStore func(t *testing.T) keystore.Store, algs []uint8, c config)
	}{
		{"CreateGet", testCreateGet},
		{"Unsupported", testUnsupported},
		{"List", testList},
		{"NotFound", testNotFound},
		{"SignVerify", testSignVerify},
		{"RRSIG", testRRSIG},
		{"Concurrent", testConcurrent},
		{"Delete", testDelete},
		{"Canceled", testCanceled},
		{"Close", testClose},
		{"Permissions", testPermissions},
		{"Persistence", testPersistence},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore, algs, c) })
	}
}

func testCreateGet(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	ctx := context.Background()
	s := newStore(t)
	for _, alg := range algs {
		for _, role := range []keystore.Role{keystore.KSK, keystore.ZSK} {
			t.Run(fmt.Sprintf("%s/%d", role, alg), func(t *testing.T) {
				before := time.Now().Add(-time.Second)
				m, err := s.Create(ctx, "Example.ORG", role, alg)
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				after := time.Now().Add(time.Second)
				if len(m.ID) != 16 || strings.Trim(m.ID, "0123456789abcdef") != "" {
					t.Errorf("ID = %q, want 16 lowercase hex digits", m.ID)
				}
				if m.Zone != "example.org." {
					t.Errorf("Zone = %q, want %q", m.Zone, "example.org.")
				}
				if m.Role != role || m.Algorithm != alg {
					t.Errorf("Role, Algorithm = %v, %d, want %v, %d", m.Role, m.Algorithm, role, alg)
				}
				if m.Backend == "" {
					t.Error("Backend is empty")
				}
				if m.Created.Before(before) || m.Created.After(after) {
					t.Errorf("Created = %v, want between %v and %v", m.Created, before, after)
				}
				got, err := s.Get(ctx, m.ID)
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if !metaEqual(got, m) {
					t.Errorf("Get = %+v, want %+v", got, m)
				}
			})
		}
	}
	// IDs are unique across keys.
	all, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range all {
		if seen[m.ID] {
			t.Errorf("duplicate ID %s", m.ID)
		}
		seen[m.ID] = true
	}
	if len(all) != 2*len(algs) {
		t.Errorf("List returned %d keys, want %d", len(all), 2*len(algs))
	}
}

func testUnsupported(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	ctx := context.Background()
	s := newStore(t)
	// 5 (RSASHA1) is deprecated by RFC 8624 and no backend offers it; the
	// others are algorithms the backend did not declare.
	bad := []uint8{0, 5, 253}
	for _, a := range []uint8{keystore.RSASHA256, keystore.ECDSAP256SHA256, keystore.ED25519} {
		if !slices.Contains(algs, a) {
			bad = append(bad, a)
		}
	}
	for _, alg := range bad {
		t.Run(fmt.Sprint(alg), func(t *testing.T) {
			_, err := s.Create(ctx, "example.org.", keystore.KSK, alg)
			if !errors.Is(err, keystore.ErrUnsupportedAlgorithm) {
				t.Errorf("Create(alg %d) error = %v, want ErrUnsupportedAlgorithm", alg, err)
			}
		})
	}
	if _, err := s.Create(ctx, "example.org.", keystore.Role(0), algs[0]); err == nil {
		t.Error("Create with role 0 succeeded")
	}
	if _, err := s.Create(ctx, "", keystore.KSK, algs[0]); err == nil {
		t.Error("Create with empty zone succeeded")
	}
	if ms, err := s.List(ctx, ""); err != nil || len(ms) != 0 {
		t.Errorf("after failed creates List = %v, %v; want no keys", ms, err)
	}
}

func testList(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	ctx := context.Background()
	s := newStore(t)
	zones := []string{"b.example.", "a.example.", "b.example.", "c.example.", "b.example."}
	want := map[string][]string{}
	for i, z := range zones {
		role := keystore.ZSK
		if i%2 == 0 {
			role = keystore.KSK
		}
		m, err := s.Create(ctx, z, role, algs[i%len(algs)])
		if err != nil {
			t.Fatal(err)
		}
		want[z] = append(want[z], m.ID)
	}
	sorted := func(ms []keystore.Meta) bool {
		return slices.IsSortedFunc(ms, func(a, b keystore.Meta) int {
			if c := a.Created.Compare(b.Created); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	tests := []struct {
		zone string
		want []string
	}{
		{"b.example.", want["b.example."]},
		{"B.Example", want["b.example."]}, // canonicalised like Create's argument
		{"a.example.", want["a.example."]},
		{"nope.example.", nil},
		{"", slices.Concat(want["a.example."], want["b.example."], want["c.example."])},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			ms, err := s.List(ctx, tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			if !sorted(ms) {
				t.Errorf("List(%q) not sorted by Created, ID: %v", tt.zone, ms)
			}
			var ids []string
			for _, m := range ms {
				ids = append(ids, m.ID)
			}
			slices.Sort(ids)
			w := slices.Clone(tt.want)
			slices.Sort(w)
			if !slices.Equal(ids, w) {
				t.Errorf("List(%q) IDs = %v, want %v", tt.zone, ids, w)
			}
		})
	}
	// The slice belongs to the caller: changing it must not change the store.
	ms, _ := s.List(ctx, "")
	ms[0].Zone = "mutated."
	again, _ := s.List(ctx, "")
	if again[0].Zone == "mutated." {
		t.Error("List returned a slice shared with the store")
	}
}

func testNotFound(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	ctx := context.Background()
	s := newStore(t)
	if _, err := s.Create(ctx, "example.org.", keystore.KSK, algs[0]); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"0123456789abcdef", "", "../../etc/passwd", "0123456789ABCDEF", "x"} {
		t.Run(id, func(t *testing.T) {
			if _, err := s.Get(ctx, id); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Get error = %v, want ErrNotFound", err)
			}
			if _, err := s.Signer(ctx, id); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Signer error = %v, want ErrNotFound", err)
			}
			if err := s.Delete(ctx, id); !errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Delete error = %v, want ErrNotFound", err)
			}
		})
	}
	if ms, err := s.List(ctx, ""); err != nil || len(ms) != 1 {
		t.Errorf("List = %v, %v; want the one key", ms, err)
	}
}

func testSignVerify(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	ctx := context.Background()
	s := newStore(t)
	for _, alg := range algs {
		t.Run(fmt.Sprint(alg), func(t *testing.T) {
			m, sg := createSigner(t, s, keystore.ZSK, alg)
			checkNoPrivate(t, sg)
			checkPublicType(t, alg, sg.Public())
			before := counter(s)
			msg := []byte("signet contract message")
			sig := sign(t, sg, alg, msg)
			if err := verify(alg, sg.Public(), msg, sig); err != nil {
				t.Fatalf("signature does not verify: %v", err)
			}
			if err := verify(alg, sg.Public(), []byte("another message"), sig); err == nil {
				t.Fatal("signature verifies over a different message")
			}
			if c, ok := s.(keystore.SignatureCounter); ok {
				if got := c.Signatures() - before; got != 1 {
					t.Errorf("Signatures() grew by %d, want 1", got)
				}
			}
			// A second Signer for the same key has the same public key.
			sg2, err := s.Signer(ctx, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !publicEqual(sg.Public(), sg2.Public()) {
				t.Error("two Signers for one key disagree on the public key")
			}
		})
	}
	// Two keys never share a public key.
	m1, _ := s.Create(ctx, "example.org.", keystore.KSK, algs[0])
	m2, _ := s.Create(ctx, "example.org.", keystore.KSK, algs[0])
	s1, err1 := s.Signer(ctx, m1.ID)
	s2, err2 := s.Signer(ctx, m2.ID)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if publicEqual(s1.Public(), s2.Public()) {
		t.Error("two keys have the same public key")
	}
}

func testRRSIG(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	s := newStore(t)
	for _, alg := range algs {
		t.Run(fmt.Sprint(alg), func(t *testing.T) {
			m, sg := createSigner(t, s, keystore.KSK, alg)
			key, err := DNSKEY(m.Zone, 257, alg, sg.Public())
			if err != nil {
				t.Fatal(err)
			}
			rrset := []dns.RR{
				mustRR(t, "www.example.org. 3600 IN A 192.0.2.1"),
				mustRR(t, "www.example.org. 3600 IN A 192.0.2.2"),
			}
			now := time.Now()
			sig := &dns.RRSIG{
				Algorithm:  alg,
				KeyTag:     key.KeyTag(),
				SignerName: m.Zone,
				Inception:  uint32(now.Add(-time.Hour).Unix()),
				Expiration: uint32(now.Add(7 * 24 * time.Hour).Unix()),
			}
			if err := sig.Sign(sg, rrset); err != nil {
				t.Fatalf("RRSIG.Sign: %v", err)
			}
			if err := sig.Verify(key, rrset); err != nil {
				t.Fatalf("RRSIG.Verify: %v", err)
			}
			raw, err := base64.StdEncoding.DecodeString(sig.Signature)
			if err != nil {
				t.Fatal(err)
			}
			if alg == keystore.ECDSAP256SHA256 && len(raw) != 64 {
				t.Errorf("ECDSA RRSIG signature is %d bytes, want 64 (r||s, RFC 6605 §4)", len(raw))
			}
			raw[len(raw)/2] ^= 0x01
			bad := *sig
			bad.Signature = base64.StdEncoding.EncodeToString(raw)
			if err := bad.Verify(key, rrset); err == nil {
				t.Error("RRSIG with a flipped bit verifies")
			}
			changed := []dns.RR{rrset[0], mustRR(t, "www.example.org. 3600 IN A 192.0.2.3")}
			if err := sig.Verify(key, changed); err == nil {
				t.Error("RRSIG verifies over different data")
			}
		})
	}
}

func testConcurrent(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	ctx := context.Background()
	s := newStore(t)
	const workers, perWorker = 8, 10
	var keys []keystore.Meta
	for _, alg := range algs {
		m, err := s.Create(ctx, "example.org.", keystore.ZSK, alg)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, m)
	}
	before := counter(s)
	var wg sync.WaitGroup
	errs := make(chan error, workers*(perWorker+1))
	for w := range workers {
		wg.Go(func() {
			// Creates, lists and signs run side by side.
			if _, err := s.Create(ctx, fmt.Sprintf("w%d.example.", w), keystore.ZSK, algs[0]); err != nil {
				errs <- fmt.Errorf("create: %w", err)
			}
			if _, err := s.List(ctx, ""); err != nil {
				errs <- fmt.Errorf("list: %w", err)
			}
			for i := range perWorker {
				m := keys[(w+i)%len(keys)]
				sg, err := s.Signer(ctx, m.ID)
				if err != nil {
					errs <- fmt.Errorf("signer: %w", err)
					return
				}
				msg := fmt.Appendf(nil, "worker %d message %d", w, i)
				sig, err := signErr(sg, m.Algorithm, msg)
				if err != nil {
					errs <- fmt.Errorf("sign: %w", err)
					continue
				}
				if err := verify(m.Algorithm, sg.Public(), msg, sig); err != nil {
					errs <- fmt.Errorf("verify key %s: %w", m.ID, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ms, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(algs)+workers {
		t.Errorf("List has %d keys after concurrent creates, want %d", len(ms), len(algs)+workers)
	}
	if c, ok := s.(keystore.SignatureCounter); ok && !t.Failed() {
		if got := c.Signatures() - before; got != workers*perWorker {
			t.Errorf("Signatures() grew by %d, want %d", got, workers*perWorker)
		}
	}
}

func testDelete(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	ctx := context.Background()
	s := newStore(t)
	keep, err := s.Create(ctx, "example.org.", keystore.KSK, algs[0])
	if err != nil {
		t.Fatal(err)
	}
	gone, err := s.Create(ctx, "example.org.", keystore.KSK, algs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Load the signer first so that a cached copy must be dropped too.
	if _, err := s.Signer(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, gone.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, gone.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Signer(ctx, gone.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Signer after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, gone.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	ms, err := s.List(ctx, "")
	if err != nil || len(ms) != 1 || ms[0].ID != keep.ID {
		t.Errorf("List after Delete = %v, %v; want only %s", ms, err, keep.ID)
	}
	if sg, err := s.Signer(ctx, keep.ID); err != nil {
		t.Errorf("Signer of the kept key: %v", err)
	} else {
		sign(t, sg, keep.Algorithm, []byte("still here"))
	}
	if d, ok := s.(dirStore); ok {
		ents, err := os.ReadDir(d.Dir())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.Contains(e.Name(), gone.ID) {
				t.Errorf("file %s of the deleted key is still there", e.Name())
			}
		}
	}
}

func testCanceled(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	s := newStore(t)
	m, err := s.Create(context.Background(), "example.org.", keystore.KSK, algs[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := []struct {
		name string
		call func() error
	}{
		{"Create", func() error { _, err := s.Create(ctx, "example.org.", keystore.KSK, algs[0]); return err }},
		{"List", func() error { _, err := s.List(ctx, ""); return err }},
		{"Get", func() error { _, err := s.Get(ctx, m.ID); return err }},
		{"Signer", func() error { _, err := s.Signer(ctx, m.ID); return err }},
		{"Delete", func() error { return s.Delete(ctx, m.ID) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a canceled context: %v, want context.Canceled", c.name, err)
			}
		})
	}
	// Nothing happened: still exactly one key.
	ms, err := s.List(context.Background(), "")
	if err != nil || len(ms) != 1 {
		t.Errorf("List = %v, %v; want the one key", ms, err)
	}
}

func testClose(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	ctx := context.Background()
	s := newStore(t)
	m, err := s.Create(ctx, "example.org.", keystore.KSK, algs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Create(ctx, "example.org.", keystore.KSK, algs[0]); !errors.Is(err, keystore.ErrClosed) {
		t.Errorf("Create after Close: %v, want ErrClosed", err)
	}
	if _, err := s.List(ctx, ""); !errors.Is(err, keystore.ErrClosed) {
		t.Errorf("List after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Get(ctx, m.ID); !errors.Is(err, keystore.ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Signer(ctx, m.ID); !errors.Is(err, keystore.ErrClosed) {
		t.Errorf("Signer after Close: %v, want ErrClosed", err)
	}
	if err := s.Delete(ctx, m.ID); !errors.Is(err, keystore.ErrClosed) {
		t.Errorf("Delete after Close: %v, want ErrClosed", err)
	}
}

func testPermissions(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, _ config) {
	s := newStore(t)
	d, ok := s.(dirStore)
	if !ok {
		t.Skip("backend keeps no files")
	}
	for _, alg := range algs {
		if _, err := s.Create(context.Background(), "example.org.", keystore.KSK, alg); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(d.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	n := 0
	err = filepath.WalkDir(d.Dir(), func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		n++
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("leftover temporary file %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 2*len(algs) {
		t.Errorf("%d files for %d keys; want at least a key and a metadata file each", n, len(algs))
	}
}

func testPersistence(t *testing.T, newStore func(*testing.T) keystore.Store, algs []uint8, c config) {
	if c.reopen == nil {
		t.Skip("backend does not persist keys")
	}
	ctx := context.Background()
	s := newStore(t)
	type key struct {
		meta keystore.Meta
		pub  crypto.PublicKey
	}
	var keys []key
	for _, alg := range algs {
		m, sg := createSigner(t, s, keystore.KSK, alg)
		keys = append(keys, key{m, sg.Public()})
	}
	deleted, err := s.Create(ctx, "example.org.", keystore.ZSK, algs[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, deleted.ID); err != nil {
		t.Fatal(err)
	}
	s2 := c.reopen(t, s)
	ms, err := s2.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != len(keys) {
		t.Fatalf("after reopen List has %d keys, want %d", len(ms), len(keys))
	}
	for _, k := range keys {
		got, err := s2.Get(ctx, k.meta.ID)
		if err != nil {
			t.Fatalf("Get after reopen: %v", err)
		}
		if !metaEqual(got, k.meta) {
			t.Errorf("after reopen Get = %+v, want %+v", got, k.meta)
		}
		sg, err := s2.Signer(ctx, k.meta.ID)
		if err != nil {
			t.Fatalf("Signer after reopen: %v", err)
		}
		if !publicEqual(sg.Public(), k.pub) {
			t.Errorf("key %s has a different public key after reopen", k.meta.ID)
		}
		msg := []byte("after reopen")
		if err := verify(k.meta.Algorithm, k.pub, msg, sign(t, sg, k.meta.Algorithm, msg)); err != nil {
			t.Errorf("signature after reopen does not verify with the original public key: %v", err)
		}
	}
	if _, err := s2.Get(ctx, deleted.ID); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("deleted key after reopen: %v, want ErrNotFound", err)
	}
}

// metaEqual compares metadata, Created by instant rather than representation.
func metaEqual(a, b keystore.Meta) bool {
	ca, cb := a.Created, b.Created
	a.Created, b.Created = time.Time{}, time.Time{}
	return a == b && ca.Equal(cb)
}

func counter(s keystore.Store) uint64 {
	if c, ok := s.(keystore.SignatureCounter); ok {
		return c.Signatures()
	}
	return 0
}

// checkNoPrivate checks the contract that a Signer does not hand out the
// private key through a type assertion.
func checkNoPrivate(t *testing.T, sg crypto.Signer) {
	t.Helper()
	switch sg.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey:
		t.Errorf("Signer is the private key itself (%T)", sg)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, sg)
		if strings.Contains(out, "D:") || strings.Contains(out, "Primes") || len(out) > 200 {
			t.Errorf("fmt %s of a Signer may print key material: %.80q", verb, out)
		}
	}
}

func checkPublicType(t *testing.T, alg uint8, pub crypto.PublicKey) {
	t.Helper()
	switch alg {
	case keystore.ECDSAP256SHA256:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok || k.Curve != elliptic.P256() {
			t.Errorf("public key %T, want P-256 *ecdsa.PublicKey", pub)
		}
	case keystore.ED25519:
		if _, ok := pub.(ed25519.PublicKey); !ok {
			t.Errorf("public key %T, want ed25519.PublicKey", pub)
		}
	case keystore.RSASHA256:
		k, ok := pub.(*rsa.PublicKey)
		if !ok || k.N.BitLen() != 2048 {
			t.Errorf("public key %T, want 2048-bit *rsa.PublicKey", pub)
		}
	}
}

func publicEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

func sign(t *testing.T, sg crypto.Signer, alg uint8, msg []byte) []byte {
	t.Helper()
	sig, err := signErr(sg, alg, msg)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return sig
}

// signErr signs msg the way miekg/dns does for alg: Ed25519 over the
// message, the others over its SHA-256 digest.
func signErr(sg crypto.Signer, alg uint8, msg []byte) ([]byte, error) {
	if alg == keystore.ED25519 {
		return sg.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	d := sha256.Sum256(msg)
	return sg.Sign(rand.Reader, d[:], crypto.SHA256)
}

func verify(alg uint8, pub crypto.PublicKey, msg, sig []byte) error {
	d := sha256.Sum256(msg)
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, d[:], sig) {
			return errors.New("invalid ECDSA signature (want ASN.1 DER)")
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(k, msg, sig) {
			return errors.New("invalid Ed25519 signature")
		}
		return nil
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig)
	}
	return fmt.Errorf("algorithm %d: unexpected public key %T", alg, pub)
}

// DNSKEY builds the DNSKEY record for pub, encoding the public key as RFC
// 3110 §2 (RSA), RFC 6605 §4 (ECDSA: X||Y, 32 bytes each) or RFC 8080 §3
// (Ed25519). It lives here, not in keystore, because keystore knows nothing
// of DNS; the signer package builds its own.
func DNSKEY(zone string, flags uint16, alg uint8, pub crypto.PublicKey) (*dns.DNSKEY, error) {
	var raw []byte
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		raw = make([]byte, 64)
		k.X.FillBytes(raw[:32])
		k.Y.FillBytes(raw[32:])
	case ed25519.PublicKey:
		raw = k
	case *rsa.PublicKey:
		e := big.NewInt(int64(k.E)).Bytes()
		if len(e) > 255 {
			return nil, errors.New("rsa exponent too long")
		}
		raw = append([]byte{byte(len(e))}, e...)
		raw = append(raw, k.N.Bytes()...)
	default:
		return nil, fmt.Errorf("unsupported public key %T", pub)
	}
	return &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: zone, Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     flags,
		Protocol:  3,
		Algorithm: alg,
		PublicKey: base64.StdEncoding.EncodeToString(raw),
	}, nil
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// createSigner creates a key of role and alg for example.org. in s and returns it with its
// signer, failing the test on any error.
func createSigner(t *testing.T, s keystore.Store, role keystore.Role, alg uint8) (keystore.Meta, crypto.Signer) {
	t.Helper()
	ctx := context.Background()
	m, err := s.Create(ctx, "example.org.", role, alg)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := s.Signer(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	return m, sg
}

// KeysOfZones creates a KSK and then a ZSK (algorithm 13) for each zone in s and returns them
// by zone, in that order: the set-up of a test that damages one zone's key and checks that the
// other zones' keys are untouched.
func KeysOfZones(ctx context.Context, t *testing.T, s keystore.Store, zones ...string) map[string][]keystore.Meta {
	t.Helper()
	keys := map[string][]keystore.Meta{}
	for _, z := range zones {
		for _, role := range []keystore.Role{keystore.KSK, keystore.ZSK} {
			m, err := s.Create(ctx, z, role, keystore.ECDSAP256SHA256)
			if err != nil {
				t.Fatal(err)
			}
			keys[z] = append(keys[z], m)
		}
	}
	return keys
}
