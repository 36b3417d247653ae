package tpm

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/tpm/tpmtest"
)

// BenchmarkSign measures a signature by a loaded key in swtpm over a unix
// socket, the hot KSK path.
func BenchmarkSign(b *testing.B) {
	sw := tpmtest.StartSWTPM(b)
	s, err := Open(Options{Dir: filepath.Join(b.TempDir(), "keys"), Device: sw.Addr()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	m, err := s.Create(ctx, "example.org.", keystore.KSK, keystore.ECDSAP256SHA256)
	if err != nil {
		b.Fatal(err)
	}
	sg, err := s.Signer(ctx, m.ID)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("benchmark"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sg.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}
