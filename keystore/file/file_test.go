package file_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/file"
	"github.com/signetdns/signet/keystore/storetest"

	"filippo.io/age"
)

// testWorkFactor keeps scrypt fast in tests; production uses 18.
const testWorkFactor = 10

var testPass = []byte("correct horse battery staple")

func open(t *testing.T, dir string, pass []byte) *file.Store {
	t.Helper()
	s, err := file.Open(file.Options{Dir: dir, Passphrase: pass, WorkFactor: testWorkFactor})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store {
		return open(t, filepath.Join(t.TempDir(), "keys"), testPass)
	}, []uint8{keystore.ECDSAP256SHA256, keystore.ED25519, keystore.RSASHA256},
		storetest.Reopen(func(t *testing.T, old keystore.Store) keystore.Store {
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, old.(*file.Store).Dir(), testPass)
		}))
}

// create makes n keys in a fresh store and returns the store's directory and
// the keys' metadata; the store is closed so that nothing is cached.
func create(t *testing.T, n int) (string, []keystore.Meta) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	s := open(t, dir, testPass)
	var ms []keystore.Meta
	for range n {
		m, err := s.Create(context.Background(), "example.org.", keystore.KSK, keystore.ECDSAP256SHA256)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, ms
}

func TestWrongPassphrase(t *testing.T) {
	dir, ms := create(t, 1)
	wrong := []byte("Tr0ub4dor&3")
	s := open(t, dir, wrong)
	// Metadata is not encrypted, so listing works without the passphrase.
	if got, err := s.List(context.Background(), ""); err != nil || len(got) != 1 {
		t.Fatalf("List = %v, %v", got, err)
	}
	_, err := s.Signer(context.Background(), ms[0].ID)
	if !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Fatalf("Signer error = %v, want ErrWrongPassphrase", err)
	}
	keyFile := filepath.Join(dir, ms[0].ID+".key.age")
	if !strings.Contains(err.Error(), keyFile) {
		t.Errorf("error %q does not name %s", err, keyFile)
	}
	if strings.Contains(err.Error(), string(wrong)) || strings.Contains(err.Error(), string(testPass)) {
		t.Errorf("error %q contains a passphrase", err)
	}
	// The right passphrase still works: nothing was modified.
	if _, err := open(t, dir, testPass).Signer(context.Background(), ms[0].ID); err != nil {
		t.Errorf("Signer with the right passphrase: %v", err)
	}
}

// TestCheckPassphrase: a store with keys tells a wrong passphrase at once, without a key
// being used; a new directory has nothing to check, and the right passphrase passes.
func TestCheckPassphrase(t *testing.T) {
	if err := open(t, filepath.Join(t.TempDir(), "keys"), testPass).CheckPassphrase(); err != nil {
		t.Errorf("new directory: %v", err)
	}
	dir, ms := create(t, 1)
	wrong := []byte("Tr0ub4dor&3")
	err := open(t, dir, wrong).CheckPassphrase()
	if !errors.Is(err, keystore.ErrWrongPassphrase) || strings.Contains(err.Error(), string(wrong)) {
		t.Errorf("wrong passphrase: %v, want ErrWrongPassphrase without the passphrase", err)
	}
	s := open(t, dir, testPass)
	if err := s.CheckPassphrase(); err != nil {
		t.Errorf("right passphrase: %v", err)
	}
	if _, err := s.Signer(context.Background(), ms[0].ID); err != nil {
		t.Errorf("Signer after the check: %v", err)
	}
}

func TestCorruptKeyFile(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-20] }},
		{"header only", func(b []byte) []byte { return b[:bytes.Index(b, []byte("\n---"))] }},
		{"payload bit flip", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }},
		{"garbage", func([]byte) []byte { return []byte("not an age file\n") }},
		{"empty", func([]byte) []byte { return nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ms := create(t, 2)
			bad := filepath.Join(dir, ms[0].ID+".key.age")
			b, err := os.ReadFile(bad)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bad, tt.corrupt(b), 0o600); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			s := open(t, dir, testPass)
			_, err = s.Signer(context.Background(), ms[0].ID)
			if err == nil {
				t.Fatal("Signer succeeded on a corrupted key file")
			}
			if errors.Is(err, keystore.ErrWrongPassphrase) || errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("error %v claims a wrong passphrase or a missing key", err)
			}
			if !strings.Contains(err.Error(), bad) {
				t.Errorf("error %q does not name %s", err, bad)
			}
			if _, err := s.Signer(context.Background(), ms[1].ID); err != nil {
				t.Errorf("the other key: %v", err)
			}
			if _, err := s.List(context.Background(), ""); err != nil {
				t.Errorf("List: %v", err)
			}
			if after := snapshot(t, dir); !mapsEqual(before, after) {
				t.Error("the directory changed after reading a corrupted key")
			}
		})
	}
}

func TestMissingKeyFile(t *testing.T) {
	dir, ms := create(t, 1)
	p := filepath.Join(dir, ms[0].ID+".key.age")
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	_, err := open(t, dir, testPass).Signer(context.Background(), ms[0].ID)
	if err == nil || !strings.Contains(err.Error(), p) || errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Signer error = %v, want one naming %s that is not ErrNotFound", err, p)
	}
}

func TestCorruptMetadata(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"garbage", "{not json"},
		{"empty", ""},
		{"unknown field", `{"id":"%s","zone":"example.org.","role":"KSK","algorithm":13,"backend":"software","created":"2026-01-01T00:00:00Z","extra":1}`},
		{"wrong id", `{"id":"ffffffffffffffff","zone":"example.org.","role":"KSK","algorithm":13,"backend":"software","created":"2026-01-01T00:00:00Z"}`},
		{"bad role", `{"id":"%s","zone":"example.org.","role":"CSK","algorithm":13,"backend":"software","created":"2026-01-01T00:00:00Z"}`},
		{"uppercase zone", `{"id":"%s","zone":"Example.org.","role":"KSK","algorithm":13,"backend":"software","created":"2026-01-01T00:00:00Z"}`},
		{"other backend", `{"id":"%s","zone":"example.org.","role":"KSK","algorithm":13,"backend":"tpm","created":"2026-01-01T00:00:00Z"}`},
		{"unsupported algorithm", `{"id":"%s","zone":"example.org.","role":"KSK","algorithm":5,"backend":"software","created":"2026-01-01T00:00:00Z"}`},
		{"trailing data", `{"id":"%s","zone":"example.org.","role":"KSK","algorithm":13,"backend":"software","created":"2026-01-01T00:00:00Z"} {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, ms := create(t, 2)
			bad := filepath.Join(dir, ms[0].ID+".json")
			data := strings.ReplaceAll(tt.data, "%s", ms[0].ID)
			if err := os.WriteFile(bad, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			s := open(t, dir, testPass)
			ctx := context.Background()
			if _, err := s.List(ctx, ""); err == nil || !strings.Contains(err.Error(), bad) {
				t.Errorf("List error = %v, want one naming %s", err, bad)
			}
			if _, err := s.Get(ctx, ms[0].ID); err == nil || !strings.Contains(err.Error(), bad) {
				t.Errorf("Get error = %v, want one naming %s", err, bad)
			}
			if _, err := s.Get(ctx, ms[1].ID); err != nil {
				t.Errorf("Get of the intact key: %v", err)
			}
		})
	}
}

func TestStrayMetadataName(t *testing.T) {
	dir, _ := create(t, 1)
	stray := filepath.Join(dir, "backup.json")
	if err := os.WriteFile(stray, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := open(t, dir, testPass).List(context.Background(), ""); err == nil || !strings.Contains(err.Error(), stray) {
		t.Errorf("List error = %v, want one naming %s", err, stray)
	}
}

func TestMaxWorkFactor(t *testing.T) {
	dir, ms := create(t, 1) // sealed with work factor 10
	s, err := file.Open(file.Options{Dir: dir, Passphrase: testPass, WorkFactor: 8, MaxWorkFactor: 9})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Signer(context.Background(), ms[0].ID)
	if err == nil || errors.Is(err, keystore.ErrWrongPassphrase) || !strings.Contains(err.Error(), "work factor") {
		t.Errorf("Signer error = %v, want a work factor error", err)
	}
}

func TestSignerCached(t *testing.T) {
	dir, ms := create(t, 1)
	s := open(t, dir, testPass)
	ctx := context.Background()
	first, err := s.Signer(ctx, ms[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// With the encrypted file gone, only the cache can answer.
	if err := os.Remove(filepath.Join(dir, ms[0].ID+".key.age")); err != nil {
		t.Fatal(err)
	}
	again, err := s.Signer(ctx, ms[0].ID)
	if err != nil {
		t.Fatalf("second Signer did not come from the cache: %v", err)
	}
	if again != first {
		t.Error("second Signer is a different object")
	}
}

func TestOpen(t *testing.T) {
	tests := []struct {
		name string
		opts file.Options
	}{
		{"no passphrase", file.Options{Dir: t.TempDir()}},
		{"no dir", file.Options{Passphrase: testPass}},
		{"max below work factor", file.Options{Dir: t.TempDir(), Passphrase: testPass, WorkFactor: 12, MaxWorkFactor: 11}},
		{"negative work factor", file.Options{Dir: t.TempDir(), Passphrase: testPass, WorkFactor: -1}},
		{"dir is a file", file.Options{Dir: writeFile(t, "x", 0o600), Passphrase: testPass}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := file.Open(tt.opts); err == nil {
				s.Close()
				t.Error("Open succeeded")
			}
		})
	}
}

func TestOpenTightensDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	open(t, dir, testPass)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v after Open, want 0700", fi.Mode().Perm())
	}
}

func TestPassphraseFromFile(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		mode    os.FileMode
		want    string
		wantErr string
	}{
		{"plain", "s3cret", 0o600, "s3cret", ""},
		{"newline", "s3cret\n", 0o600, "s3cret", ""},
		{"crlf", "s3cret\r\n", 0o400, "s3cret", ""},
		{"inner newline kept", "two\nlines\n", 0o600, "two\nlines", ""},
		{"group readable", "s3cret", 0o640, "", "chmod 600"},
		{"world readable", "s3cret", 0o604, "", "chmod 600"},
		{"empty", "\n", 0o600, "", "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, tt.data, tt.mode)
			got, err := file.PassphraseFromFile(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), p) {
					t.Errorf("error = %v, want one naming %s and containing %q", err, p, tt.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error %q contains the passphrase", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("PassphraseFromFile = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := file.PassphraseFromFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestPassphraseFromEnv(t *testing.T) {
	t.Setenv("SIGNET_TEST_PASS", "from env")
	t.Setenv("SIGNET_TEST_EMPTY", "")
	if got, err := file.PassphraseFromEnv("SIGNET_TEST_PASS"); err != nil || string(got) != "from env" {
		t.Errorf("PassphraseFromEnv = %q, %v", got, err)
	}
	for _, name := range []string{"SIGNET_TEST_EMPTY", "SIGNET_TEST_UNSET_VARIABLE"} {
		if _, err := file.PassphraseFromEnv(name); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("PassphraseFromEnv(%s) error = %v, want one naming it", name, err)
		}
	}
}

// TestOpenSSLReadsKey checks the recovery path of the package doc: the
// decrypted payload is PKCS #8 DER that openssl reads, and it holds the key
// whose public half the store reports.
func TestOpenSSLReadsKey(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl not installed: run scripts/install-test-deps.sh")
		}
		t.Skip("openssl not installed")
	}
	ctx := context.Background()
	for _, alg := range []uint8{keystore.ECDSAP256SHA256, keystore.ED25519, keystore.RSASHA256} {
		dir := t.TempDir()
		s := open(t, dir, testPass)
		m, err := s.Create(ctx, "example.org.", keystore.KSK, alg)
		if err != nil {
			t.Fatal(err)
		}
		sg, err := s.Signer(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		der := decryptWithLibrary(t, filepath.Join(dir, m.ID+".key.age"))
		checkOpenSSL(t, der, sg.Public())
	}
}

// TestAgeCLIDecrypts runs the real age binary, which reads the passphrase
// from the terminal; script(1) gives it one.
func TestAgeCLIDecrypts(t *testing.T) {
	for _, tool := range []string{"age", "script"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed: run scripts/install-test-deps.sh", tool)
			}
			t.Skipf("%s not installed (scripts/install-test-deps.sh installs it)", tool)
		}
	}
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir, testPass)
	m, err := s.Create(ctx, "example.org.", keystore.KSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := s.Signer(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Two steps, as the package doc says: the key-encryption key with the passphrase, then the
	// key with it.
	tmp := t.TempDir()
	kek, out := filepath.Join(tmp, "kek.txt"), filepath.Join(tmp, "key.der")
	cmd := exec.Command("script", "-qec", "age -d -o "+kek+" "+filepath.Join(dir, "kek.age"), "/dev/null")
	cmd.Stdin = strings.NewReader(string(testPass) + "\n")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("age -d kek.age: %v\n%s", err, b)
	}
	if b, err := exec.Command("age", "-d", "-i", kek, "-o", out, filepath.Join(dir, m.ID+".key.age")).CombinedOutput(); err != nil {
		t.Fatalf("age -d -i: %v\n%s", err, b)
	}
	der, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	checkOpenSSL(t, der, sg.Public())
}

func checkOpenSSL(t *testing.T, der []byte, want crypto.PublicKey) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Log("openssl not installed; checking the DER with crypto/x509 only")
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			t.Fatal(err)
		}
		if !k.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(want) {
			t.Error("decrypted key does not match the store's public key")
		}
		return
	}
	cmd := exec.Command("openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER")
	cmd.Stdin = bytes.NewReader(der)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pubDER, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl pkey: %v: %s", err, stderr.String())
	}
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(want) {
		t.Error("the key openssl read does not match the store's public key")
	}
}

func decryptWithLibrary(t *testing.T, path string) []byte {
	t.Helper()
	id, err := age.NewScryptIdentity(string(testPass))
	if err != nil {
		t.Fatal(err)
	}
	// The key-encryption key first (the passphrase's), then the key (the KEK's).
	kekText := ageDecrypt(t, filepath.Join(filepath.Dir(path), "kek.age"), id)
	kek, err := age.ParseX25519Identity(strings.TrimSpace(string(kekText)))
	if err != nil {
		t.Fatal(err)
	}
	return ageDecrypt(t, path, kek)
}

func ageDecrypt(t *testing.T, path string, id age.Identity) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := age.Decrypt(f, id)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestKeyEncryptionKey: key files are sealed to the key-encryption key (an X25519 recipient),
// which alone is sealed to the passphrase (scrypt), so one scrypt run opens every key; a key
// file sealed to the passphrase directly, as before kek.age existed, still opens.
func TestKeyEncryptionKey(t *testing.T) {
	ctx := context.Background()
	dir, ms := create(t, 2)
	header := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		h, _, _ := strings.Cut(string(b), "\n---")
		return h
	}
	if h := header("kek.age"); !strings.Contains(h, "-> scrypt") {
		t.Errorf("kek.age is not sealed to the passphrase:\n%s", h)
	}
	for _, m := range ms {
		if h := header(m.ID + ".key.age"); !strings.Contains(h, "-> X25519") || strings.Contains(h, "scrypt") {
			t.Errorf("%s.key.age is not sealed to the key-encryption key alone:\n%s", m.ID, h)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "kek.age")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("kek.age: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	// Re-seal one key to the passphrase alone, as an older Signet did.
	der := decryptWithLibrary(t, filepath.Join(dir, ms[0].ID+".key.age"))
	rcpt, err := age.NewScryptRecipient(string(testPass))
	if err != nil {
		t.Fatal(err)
	}
	rcpt.SetWorkFactor(testWorkFactor)
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcpt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(der); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ms[0].ID+".key.age"), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, testPass)
	for _, m := range ms {
		if _, err := s.Signer(ctx, m.ID); err != nil {
			t.Errorf("Signer(%s): %v", m.ID, err)
		}
	}
	// Without kek.age, the key sealed to the passphrase still opens; the others cannot.
	if err := os.Remove(filepath.Join(dir, "kek.age")); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, testPass)
	if _, err := s.Signer(ctx, ms[0].ID); err != nil {
		t.Errorf("the passphrase-sealed key without kek.age: %v", err)
	}
	if _, err := s.Signer(ctx, ms[1].ID); err == nil {
		t.Error("a key sealed to a lost key-encryption key opened")
	}
}

func writeFile(t *testing.T, data string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestListSeesOtherWriters: List keeps the metadata by zone between calls, but a key that
// another Store (another process) adds to the directory is listed once the directory's
// modification time moves; and while it does not move, List reads no metadata file again.
func TestListSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := open(t, dir, testPass), open(t, dir, testPass)
	m1, err := a.Create(ctx, "example.org.", keystore.KSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.List(ctx, "example.org."); err != nil || len(got) != 1 || got[0].ID != m1.ID {
		t.Fatalf("List after Create = %v, %v", got, err)
	}
	m2, err := b.Create(ctx, "example.org.", keystore.ZSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	// Move the directory's time past any clock tick a's index could share with b's write.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(dir, later, later); err != nil {
		t.Fatal(err)
	}
	got, err := a.List(ctx, "example.org.")
	if err != nil || len(got) != 2 {
		t.Fatalf("List after another writer's Create = %v, %v; want both keys", got, err)
	}
	if other, err := a.List(ctx, "example.net."); err != nil || len(other) != 0 {
		t.Errorf("List of another zone = %v, %v", other, err)
	}
	// Corrupt a metadata file without moving the directory's time: the index answers.
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, m2.ID+".json"), []byte("{garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dir, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got, err := a.List(ctx, "example.org."); err != nil || len(got) != 2 {
		t.Errorf("List with an unchanged directory re-read the files: %v, %v", got, err)
	}
	// Once the directory's time moves, the files are read again and the corrupt one is named.
	if err := os.Chtimes(dir, later.Add(time.Minute), later.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := a.List(ctx, ""); err == nil || !strings.Contains(err.Error(), m2.ID+".json") {
		t.Errorf("List after the directory changed = %v, %v; want an error naming %s.json", got, err, m2.ID)
	}
	// Delete by this Store keeps the index in step.
	if err := os.WriteFile(filepath.Join(dir, m2.ID+".json"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, m2.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := b.List(ctx, "example.org."); err != nil || len(got) != 1 || got[0].ID != m1.ID {
		t.Errorf("List after Delete = %v, %v; want only %s", got, err, m1.ID)
	}
}

// TestExport: Export hands the key the metadata describes, in PKCS #8 form, and wipes the
// bytes once the callback returns; it writes nothing to the key directory; an unknown ID is
// ErrNotFound, and the callback's error comes back.
func TestExport(t *testing.T) {
	t.Parallel()
	dir, ms := create(t, 1)
	s := open(t, dir, testPass)
	ctx := context.Background()
	before, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var held []byte
	var pub []byte
	err = s.Export(ctx, ms[0].ID, func(m keystore.Meta, der []byte) error {
		if m != ms[0] {
			t.Errorf("Export's metadata %+v, want %+v", m, ms[0])
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return err
		}
		pub, _ = x509.MarshalPKIXPublicKey(k.(crypto.Signer).Public())
		held = der
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sg, err := s.Signer(ctx, ms[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := x509.MarshalPKIXPublicKey(sg.Public())
	if !bytes.Equal(pub, want) {
		t.Fatal("Export handed another key than Signer's")
	}
	if len(held) == 0 || !bytes.Equal(held, make([]byte, len(held))) {
		t.Error("the exported bytes were not wiped after the callback")
	}
	after, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("Export changed the key directory: %d entries, then %d", len(before), len(after))
	}
	if err := s.Export(ctx, "0123456789abcdef", func(keystore.Meta, []byte) error { return nil }); !errors.Is(err, keystore.ErrNotFound) {
		t.Errorf("Export of an unknown key: %v", err)
	}
	boom := errors.New("boom")
	if err := s.Export(ctx, ms[0].ID, func(keystore.Meta, []byte) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("Export's callback error: %v", err)
	}
}

// TestCreateDurableOnReturn: when Create returns, a crash of the machine cannot lose the key:
// its key file was written, and its metadata renamed into place, before a barrier (syncfs)
// that began after them had ended; the metadata's data was on disk before its rename.
func TestCreateDurableOnReturn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	s := open(t, dir, testPass)
	var events []atomicfile.Event
	var mu sync.Mutex
	restore := atomicfile.SetObserver(func(e atomicfile.Event) {
		if strings.HasPrefix(e.Path, dir) {
			mu.Lock()
			events = append(events, e)
			mu.Unlock()
		}
	})
	m, err := s.Create(context.Background(), "example.test.", keystore.KSK, keystore.ECDSAP256SHA256)
	restore()
	if err != nil {
		t.Fatal(err)
	}
	key, meta := filepath.Join(dir, m.ID+".key.age"), filepath.Join(dir, m.ID+".json")
	// after returns whether a whole barrier follows event i.
	after := func(i int) bool {
		for j := i + 1; j < len(events); j++ {
			if events[j].Op == atomicfile.BarrierBegin {
				for _, e := range events[j+1:] {
					if e.Op == atomicfile.BarrierEnd {
						return true
					}
				}
			}
		}
		return false
	}
	wrote, renamed := -1, -1
	for i, e := range events {
		switch {
		case e.Op == atomicfile.Written && e.Path == key:
			wrote = i
		case e.Op == atomicfile.Renamed && e.Path == meta:
			renamed = i
			for j, w := range events[:i] {
				if w.Op == atomicfile.Written && w.Path == e.From && !after(j) {
					t.Errorf("metadata renamed into place before a barrier made its data durable")
				}
			}
		}
	}
	if wrote < 0 || renamed < 0 {
		t.Fatalf("events %v: the key file's write or the metadata's rename is missing", events)
	}
	if !after(renamed) || wrote > renamed {
		t.Errorf("events %v: Create returned before the key file and the metadata's rename were durable", events)
	}
}
