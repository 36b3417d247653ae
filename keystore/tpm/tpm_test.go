package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/storetest"
	"github.com/signetdns/signet/keystore/tpm/tpmtest"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

func openStore(t *testing.T, dir, device string) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, Device: device, DialTimeout: time.Second, CommandTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store {
		tpm := tpmtest.StartSWTPM(t)
		return openStore(t, filepath.Join(t.TempDir(), "keys"), tpm.Addr())
	}, []uint8{keystore.ECDSAP256SHA256},
		storetest.Reopen(func(t *testing.T, old keystore.Store) keystore.Store {
			o := old.(*Store)
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			return openStore(t, o.Dir(), o.dev.spec)
		}))
}

// setup starts a TPM, opens a store and creates one KSK.
func setup(t *testing.T) (*tpmtest.SWTPM, *Store, keystore.Meta) {
	t.Helper()
	tpm := tpmtest.StartSWTPM(t)
	s := openStore(t, filepath.Join(t.TempDir(), "keys"), tpm.Addr())
	m, err := s.Create(context.Background(), "example.org.", keystore.KSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return tpm, s, m
}

func getSigner(t *testing.T, s *Store, id string) crypto.Signer {
	t.Helper()
	sg, err := s.Signer(context.Background(), id)
	if err != nil {
		t.Fatalf("Signer: %v", err)
	}
	return sg
}

func trySign(sg crypto.Signer, msg string) error {
	d := sha256.Sum256([]byte(msg))
	sig, err := sg.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(sg.Public().(*ecdsa.PublicKey), d[:], sig) {
		return errors.New("signature does not verify")
	}
	return nil
}

func mustSign(t *testing.T, sg crypto.Signer, msg string) {
	t.Helper()
	if err := trySign(sg, msg); err != nil {
		t.Fatalf("Sign: %v", err)
	}
}

func TestRestartSameTPM(t *testing.T) {
	tpm, s, m := setup(t)
	sg := getSigner(t, s, m.ID)
	mustSign(t, sg, "before restart")
	tpm.Stop()
	tpm.Start()
	// The connection died and the loaded handle with it; the same signer
	// reconnects and reloads within one call.
	mustSign(t, sg, "after restart")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, s.Dir(), tpm.Addr())
	sg2 := getSigner(t, s2, m.ID)
	if !sg2.Public().(*ecdsa.PublicKey).Equal(sg.Public()) {
		t.Error("public key changed across reopen")
	}
	mustSign(t, sg2, "new store after restart")
}

func TestTPMUnreachable(t *testing.T) {
	tpm, s, m := setup(t)
	sg := getSigner(t, s, m.ID)
	mustSign(t, sg, "up")
	tpm.Stop()
	for i := range 3 {
		start := time.Now()
		err := trySign(sg, "down")
		if err == nil {
			t.Fatal("Sign succeeded with the TPM down")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("attempt %d: Sign took %v to fail, want under 2s", i, d)
		}
		if !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("error %q does not say the TPM is unreachable", err)
		}
	}
	// Public needs no TPM.
	if _, ok := sg.Public().(*ecdsa.PublicKey); !ok {
		t.Error("Public unavailable with the TPM down")
	}
	if err := s.Check(context.Background()); err == nil {
		t.Error("Check succeeded with the TPM down")
	}
	tpm.Start()
	mustSign(t, sg, "back")
	if err := s.Check(context.Background()); err != nil {
		t.Errorf("Check after the TPM is back: %v", err)
	}
}

func TestOpenWithoutTPM(t *testing.T) {
	tpm, s, m := setup(t)
	pub := getSigner(t, s, m.ID).Public()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	tpm.Stop()
	s2 := openStore(t, s.Dir(), tpm.Addr())
	sg := getSigner(t, s2, m.ID)
	if !sg.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Error("Public differs when read without the TPM")
	}
	if err := trySign(sg, "down"); err == nil {
		t.Error("Sign succeeded with the TPM down")
	}
	tpm.Start()
	mustSign(t, sg, "up")
}

func TestForeignTPM(t *testing.T) {
	_, s, m := setup(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	other := tpmtest.StartSWTPM(t) // fresh state: new seeds, another TPM
	s2 := openStore(t, s.Dir(), other.Addr())
	// The health check sees it at once, before any signature is asked for: the other TPM
	// answers, but it is not the one the keys belong to.
	if err := s2.Check(context.Background()); !errors.Is(err, errForeignTPM) || !strings.Contains(err.Error(), m.ID) {
		t.Fatalf("Check on another TPM: %v, want errForeignTPM naming the key", err)
	}
	sg := getSigner(t, s2, m.ID)
	err := trySign(sg, "x")
	if !errors.Is(err, errForeignTPM) || !strings.Contains(err.Error(), m.ID) {
		t.Fatalf("Sign on another TPM: %v, want errForeignTPM naming the key", err)
	}

	// Even with the storage key's name forged to match, the TPM refuses the
	// blob (TPM_RC_INTEGRITY), and the error says the same.
	var name []byte
	if err := s2.do(context.Background(), func(tp transport.TPM) error {
		srk, err := createSRK(tp)
		if err != nil {
			return err
		}
		name = srk.name.Buffer
		return flush(tp, srk.handle)
	}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(), m.ID+".json")
	editRecord(t, path, func(r *record) { r.SRKName = name })
	s3 := openStore(t, s.Dir(), other.Addr())
	s2.Close()
	err = trySign(getSigner(t, s3, m.ID), "x")
	if !errors.Is(err, errForeignTPM) || !errors.Is(err, tpm2.TPMRCIntegrity) {
		t.Fatalf("Sign with a forged storage key name: %v, want errForeignTPM and TPM_RC_INTEGRITY", err)
	}
}

func TestAuthFile(t *testing.T) {
	_, s, m := setup(t)
	authPath := filepath.Join(s.Dir(), m.ID+".auth")
	good, err := os.ReadFile(authPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 32 {
		t.Fatalf("auth file has %d bytes, want 32", len(good))
	}

	t.Run("wrong", func(t *testing.T) {
		bad := make([]byte, 32)
		rand.Read(bad)
		writeFile(t, authPath, bad)
		s.Close() // one client per swtpm
		tp := openStore(t, s.Dir(), s.dev.spec)
		sg := getSigner(t, tp, m.ID)
		// More failures than swtpm's lockout threshold (3): NoDA keeps the
		// key usable once the right value is back.
		for range 5 {
			err := trySign(sg, "x")
			if !errors.Is(err, tpm2.TPMRCAuthFail) && !errors.Is(err, tpm2.TPMRCBadAuth) {
				t.Fatalf("Sign with a wrong auth value: %v, want TPM_RC_AUTH_FAIL", err)
			}
			if !strings.Contains(err.Error(), authPath) {
				t.Errorf("error %q does not name %s", err, authPath)
			}
		}
		writeFile(t, authPath, good)
		tp.Close()
		mustSign(t, getSigner(t, openStore(t, s.Dir(), s.dev.spec), m.ID), "right value again")
	})

	tests := []struct {
		name string
		prep func()
		want string
	}{
		{"missing", func() { os.Remove(authPath) }, authPath},
		{"short", func() { writeFile(t, authPath, good[:16]) }, "16 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.prep()
			defer writeFile(t, authPath, good)
			tp := openStore(t, s.Dir(), "unix:/nonexistent")
			_, err := tp.Signer(context.Background(), m.ID)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Signer: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestLeakedObjects fills the TPM's object slots the way a crashed process
// without a resource manager would, and checks the store recovers.
func TestLeakedObjects(t *testing.T) {
	tpm, s, m := setup(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dev, _ := parseDevice(tpm.Addr())
	conn, err := dev.dial(time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := createSRK(conn); err != nil {
			t.Fatalf("leak: %v", err)
		}
	}
	if _, err := createSRK(conn); !errors.Is(err, tpm2.TPMRCObjectMemory) {
		t.Fatalf("a fourth object: %v, want TPM_RC_OBJECT_MEMORY (slots full)", err)
	}
	conn.Close() // without flushing: swtpm keeps the objects
	s2 := openStore(t, s.Dir(), tpm.Addr())
	mustSign(t, getSigner(t, s2, m.ID), "after leak")
}

// TestManyKeys signs with more keys than stay loaded, in turn, so keys are
// evicted and reloaded; nothing may leak into the TPM's few object slots.
func TestManyKeys(t *testing.T) {
	_, s, first := setup(t)
	ids := []string{first.ID}
	for range maxLoaded + 2 {
		m, err := s.Create(context.Background(), "example.org.", keystore.ZSK, keystore.ECDSAP256SHA256)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	for round := range 3 {
		for _, id := range ids {
			if err := trySign(getSigner(t, s, id), "round"); err != nil {
				t.Fatalf("round %d key %s: %v", round, id, err)
			}
		}
	}
	if len(s.loaded) > maxLoaded {
		t.Errorf("%d keys loaded, want at most %d", len(s.loaded), maxLoaded)
	}
	if got, want := s.Signatures(), uint64(3*len(ids)); got != want {
		t.Errorf("Signatures() = %d, want %d", got, want)
	}
}

func TestSignRejectsOtherHashes(t *testing.T) {
	_, s, m := setup(t)
	sg := getSigner(t, s, m.ID)
	tests := []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
	}{
		{"sha384", make([]byte, 48), crypto.SHA384},
		{"short", make([]byte, 20), crypto.SHA256},
		{"no hash", make([]byte, 32), crypto.Hash(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := sg.Sign(rand.Reader, tt.digest, tt.opts); err == nil {
				t.Error("Sign succeeded")
			}
		})
	}
	if s.Signatures() != 0 {
		t.Errorf("Signatures() = %d after only failures", s.Signatures())
	}
}

func TestParseDevice(t *testing.T) {
	tests := []struct {
		spec    string
		network string
		addr    string
		rm      bool
		wantErr bool
	}{
		{"", "", "/dev/tpmrm0", true, false},
		{"/dev/tpmrm0", "", "/dev/tpmrm0", true, false},
		{"/dev/tpm0", "", "/dev/tpm0", false, false},
		{"unix:/run/swtpm.sock", "unix", "/run/swtpm.sock", false, false},
		{"tcp:127.0.0.1:2321", "tcp", "127.0.0.1:2321", false, false},
		{"tcp:127.0.0.1", "", "", false, true},
		{"unix:", "", "", false, true},
		{"swtpm:host=x", "", "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			d, err := parseDevice(tt.spec)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (d.network != tt.network || d.addr != tt.addr || d.rm != tt.rm) {
				t.Errorf("got %+v, want network %q addr %q rm %v", d, tt.network, tt.addr, tt.rm)
			}
		})
	}
}

func editRecord(t *testing.T, path string, f func(*record)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	f(&r)
	b, err = json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestCheckSkipsUnreadableMetadata: one key's metadata file damaged leaves the health check
// of the others' TPM passing (the damaged key fails on its own, at its use), and a listing
// leaves it out, naming it; on another TPM the check still fails, naming an intact key.
func TestCheckSkipsUnreadableMetadata(t *testing.T) {
	_, s, m := setup(t)
	ctx := context.Background()
	other, err := s.Create(ctx, "example.net.", keystore.KSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(), m.ID+".json")
	if err := os.WriteFile(path, []byte(`{"id":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Errorf("Check with one damaged metadata file: %v", err)
	}
	ms, err := s.List(ctx, "")
	var ue *keystore.UnreadableError
	if !errors.As(err, &ue) || len(ue.Entries) != 1 || ue.Entries[0].Where != path || len(ms) != 1 || ms[0].ID != other.ID {
		t.Errorf("List = %v, %v; want %s and an UnreadableError naming %s", ms, err, other.ID, path)
	}
	if _, err := s.Signer(ctx, m.ID); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Signer of the damaged key: %v, want an error naming %s", err, path)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	foreign := openStore(t, s.Dir(), tpmtest.StartSWTPM(t).Addr())
	if err := foreign.Check(ctx); !errors.Is(err, errForeignTPM) || !strings.Contains(err.Error(), other.ID) {
		t.Errorf("Check on another TPM: %v, want errForeignTPM naming %s", err, other.ID)
	}
}
