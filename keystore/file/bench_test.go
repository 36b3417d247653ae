package file_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/file"
)

// BenchmarkSign measures signing with a cached (decrypted) key.
func BenchmarkSign(b *testing.B) {
	for _, alg := range []uint8{keystore.ECDSAP256SHA256, keystore.ED25519, keystore.RSASHA256} {
		b.Run(fmt.Sprint(alg), func(b *testing.B) {
			s, err := file.Open(file.Options{Dir: b.TempDir(), Passphrase: []byte("bench"), WorkFactor: 10})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			m, err := s.Create(context.Background(), "example.org.", keystore.ZSK, alg)
			if err != nil {
				b.Fatal(err)
			}
			sg, err := s.Signer(context.Background(), m.ID)
			if err != nil {
				b.Fatal(err)
			}
			msg := []byte("benchmark")
			d := sha256.Sum256(msg)
			in, opts := d[:], crypto.SignerOpts(crypto.SHA256)
			if alg == keystore.ED25519 {
				in, opts = msg, crypto.Hash(0)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sg.Sign(rand.Reader, in, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkUnlock measures the first use of a key at the default work
// factor: one scrypt run, which the cache then saves.
func BenchmarkUnlock(b *testing.B) {
	dir := b.TempDir()
	s, err := file.Open(file.Options{Dir: dir, Passphrase: []byte("bench")})
	if err != nil {
		b.Fatal(err)
	}
	m, err := s.Create(context.Background(), "example.org.", keystore.KSK, keystore.ECDSAP256SHA256)
	if err != nil {
		b.Fatal(err)
	}
	s.Close()
	for b.Loop() {
		s, err := file.Open(file.Options{Dir: dir, Passphrase: []byte("bench")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Signer(context.Background(), m.ID); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}
