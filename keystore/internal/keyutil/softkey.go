package keyutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/signetdns/signet/keystore"
)

// rsaBits is the RSA modulus size for algorithm 8; RFC 8624 §3.1 and NIST SP
// 800-57 make 2048 bits the floor.
const rsaBits = 2048

// GenerateSoftware makes a new private key for DNSSEC algorithm alg.
func GenerateSoftware(alg uint8) (crypto.Signer, error) {
	switch alg {
	case keystore.ECDSAP256SHA256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case keystore.ED25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case keystore.RSASHA256:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	}
	return nil, fmt.Errorf("algorithm %d: %w", alg, keystore.ErrUnsupportedAlgorithm)
}

// ParsePKCS8 parses a PKCS #8 DER private key and checks that its type
// matches DNSSEC algorithm alg, so metadata and key cannot silently disagree.
func ParsePKCS8(der []byte, alg uint8) (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		// x509's errors describe the structure, never the key bytes.
		return nil, fmt.Errorf("parse PKCS #8 key: %w", err)
	}
	var ok bool
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		ok = alg == keystore.ECDSAP256SHA256 && k.Curve == elliptic.P256()
	case ed25519.PrivateKey:
		ok = alg == keystore.ED25519
	case *rsa.PrivateKey:
		ok = alg == keystore.RSASHA256 && k.N.BitLen() >= rsaBits
	}
	if !ok {
		return nil, fmt.Errorf("key type %T does not match algorithm %d", k, alg)
	}
	return k.(crypto.Signer), nil
}

// Counting wraps a signer so that the private key cannot be recovered by a
// type assertion and every successful signature is counted in *n.
type Counting struct {
	key crypto.Signer
	n   *atomic.Uint64
}

// NewCounting returns a Counting signer over key that adds to n.
func NewCounting(key crypto.Signer, n *atomic.Uint64) *Counting {
	return &Counting{key: key, n: n}
}

// Public implements crypto.Signer.
func (c *Counting) Public() crypto.PublicKey { return c.key.Public() }

// Sign implements crypto.Signer by delegating to the wrapped key.
func (c *Counting) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := c.key.Sign(r, digest, opts)
	if err == nil {
		c.n.Add(1)
	}
	return sig, err
}

// String keeps fmt's %v from printing the private key's fields.
func (c *Counting) String() string { return fmt.Sprintf("keystore signer (%T)", c.key.Public()) }

// GoString keeps fmt's %#v from printing the private key's fields.
func (c *Counting) GoString() string { return c.String() }
