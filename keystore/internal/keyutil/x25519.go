package keyutil

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// x25519Label is the HKDF info of age's X25519 stanzas (age v1 specification, "The X25519
// recipient type").
const x25519Label = "age-encryption.org/v1/X25519"

// X25519 is an age X25519 identity that opens a file with one scalar multiplication and
// seals one with two. age's own X25519Identity computes its public key again for every
// file it opens (its X25519 function builds a crypto/ecdh key, which derives the public
// key first), and its recipient makes three multiplications where two do: for thousands of
// key files at a start, a third of the decryption. The stanzas are age's standard X25519
// ones, so `age -d -i` opens the files as before.
type X25519 struct {
	priv *ecdh.PrivateKey
	pub  []byte
}

var _ age.Identity = (*X25519)(nil)

// NewX25519 returns id in this form.
func NewX25519(id *age.X25519Identity) (*X25519, error) {
	hrp, scalar, err := bech32Decode(id.String())
	if err != nil || hrp != "age-secret-key-" {
		return nil, errors.New("keystore: not an age X25519 identity")
	}
	defer clear(scalar)
	priv, err := ecdh.X25519().NewPrivateKey(scalar)
	if err != nil {
		return nil, errors.New("keystore: not an age X25519 identity")
	}
	return &X25519{priv: priv, pub: priv.PublicKey().Bytes()}, nil
}

// Unwrap implements age.Identity.
func (k *X25519) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type != "X25519" {
			continue
		}
		if len(s.Args) != 1 {
			return nil, errors.New("invalid X25519 recipient block")
		}
		share, err := base64.RawStdEncoding.Strict().DecodeString(s.Args[0])
		if err != nil || len(share) != 32 {
			return nil, errors.New("invalid X25519 recipient block")
		}
		peer, err := ecdh.X25519().NewPublicKey(share)
		if err != nil {
			return nil, errors.New("invalid X25519 recipient block")
		}
		shared, err := k.priv.ECDH(peer)
		if err != nil {
			return nil, fmt.Errorf("invalid X25519 recipient: %w", err)
		}
		aead, err := wrapping(shared, share, k.pub)
		if err != nil {
			return nil, err
		}
		if len(s.Body) != 16+chacha20poly1305.Overhead {
			return nil, errors.New("invalid X25519 recipient block: incorrect file key size")
		}
		fileKey, err := aead.Open(nil, make([]byte, chacha20poly1305.NonceSize), s.Body, nil)
		if err != nil {
			continue // sealed to another identity
		}
		return fileKey, nil
	}
	return nil, age.ErrIncorrectIdentity
}

// Recipient returns the age recipient of k, which seals with two scalar multiplications.
func (k *X25519) Recipient() age.Recipient { return x25519Recipient{pub: k.pub} }

type x25519Recipient struct{ pub []byte }

// Wrap implements age.Recipient.
func (r x25519Recipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	their, err := ecdh.X25519().NewPublicKey(r.pub)
	if err != nil {
		return nil, err
	}
	shared, err := eph.ECDH(their)
	if err != nil {
		return nil, err
	}
	share := eph.PublicKey().Bytes()
	aead, err := wrapping(shared, share, r.pub)
	if err != nil {
		return nil, err
	}
	body := aead.Seal(nil, make([]byte, chacha20poly1305.NonceSize), fileKey, nil)
	return []*age.Stanza{{Type: "X25519", Args: []string{base64.RawStdEncoding.EncodeToString(share)}, Body: body}}, nil
}

// wrapping derives the AEAD that wraps a file key: ChaCha20-Poly1305 under HKDF-SHA-256 of
// the shared secret, salted with the ephemeral share and the recipient's public key.
func wrapping(shared, share, recipient []byte) (interface {
	Seal(dst, nonce, plaintext, additional []byte) []byte
	Open(dst, nonce, ciphertext, additional []byte) ([]byte, error)
}, error) {
	salt := make([]byte, 0, len(share)+len(recipient))
	salt = append(append(salt, share...), recipient...)
	key, err := hkdf.Key(sha256.New, shared, salt, x25519Label, chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return chacha20poly1305.New(key)
}

// bech32Decode decodes a Bech32 string (BIP 173), as age encodes its keys, returning its
// lowercase human-readable part and its data in bytes.
func bech32Decode(s string) (string, []byte, error) {
	if strings.ToLower(s) != s && strings.ToUpper(s) != s {
		return "", nil, errors.New("bech32: mixed case")
	}
	s = strings.ToLower(s)
	pos := strings.LastIndexByte(s, '1')
	if pos < 1 || pos+7 > len(s) {
		return "", nil, errors.New("bech32: no separator or checksum")
	}
	hrp := s[:pos]
	values := make([]byte, 0, len(s)-pos-1)
	for _, c := range s[pos+1:] {
		i := strings.IndexRune(bech32Charset, c)
		if i < 0 {
			return "", nil, errors.New("bech32: invalid character")
		}
		values = append(values, byte(i))
	}
	check := make([]byte, 0, 2*len(hrp)+1+len(values))
	for _, c := range hrp {
		check = append(check, byte(c>>5))
	}
	check = append(check, 0)
	for _, c := range hrp {
		check = append(check, byte(c&31))
	}
	if bech32Polymod(append(check, values...)) != 1 {
		return "", nil, errors.New("bech32: bad checksum")
	}
	// 5-bit groups to bytes; the padding must be zero bits, fewer than five.
	var out []byte
	acc, bits := 0, 0
	for _, v := range values[:len(values)-6] {
		acc = acc<<5 | int(v)
		bits += 5
		for bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
		acc &= 1<<bits - 1
	}
	if bits >= 5 || acc != 0 {
		return "", nil, errors.New("bech32: bad padding")
	}
	return hrp, out, nil
}

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range 5 {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}
