package keyutil

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/signetdns/signet/keystore"
)

// NewSealed generates a software key of DNSSEC algorithm alg and returns it with its PKCS #8
// form encrypted with age to rcpts (a passphrase's scrypt recipient, or a cluster's X25519
// recipients). The clear PKCS #8 bytes are wiped before it returns.
func NewSealed(alg uint8, rcpts ...age.Recipient) (crypto.Signer, []byte, error) {
	key, err := GenerateSoftware(alg)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: encode key: %w", err)
	}
	defer clear(der)
	sealed, err := Seal(der, rcpts...)
	if err != nil {
		return nil, nil, err
	}
	return key, sealed, nil
}

// Seal encrypts a key's PKCS #8 form with age to rcpts. It leaves der as it is: the caller
// wipes it.
func Seal(der []byte, rcpts ...age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rcpts...)
	if err == nil {
		_, err = w.Write(der)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: encrypt key: %w", err)
	}
	return buf.Bytes(), nil
}

// OpenSealed decrypts a key NewSealed sealed, read from r, with ids, and checks it is of
// algorithm alg. name says where it was read from, in errors; an identity that is not a
// recipient gives keystore.ErrWrongPassphrase. No error contains key material.
func OpenSealed(r io.Reader, name string, alg uint8, ids ...age.Identity) (crypto.Signer, error) {
	der, err := Unseal(r, name, ids...)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	key, err := ParsePKCS8(der, alg)
	if err != nil {
		return nil, fmt.Errorf("keystore: %s: %w", name, err)
	}
	return key, nil
}

// Unseal decrypts a sealed key, read from r, with ids and returns its PKCS #8 form, which the
// caller wipes (clear) once done with it. Errors are those of OpenSealed.
func Unseal(r io.Reader, name string, ids ...age.Identity) ([]byte, error) {
	dr, err := age.Decrypt(r, ids...)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, fmt.Errorf("decrypt %s: %w", name, keystore.ErrWrongPassphrase)
		}
		return nil, fmt.Errorf("keystore: decrypt %s: corrupted or not an age file of this kind: %w", name, err)
	}
	der, err := io.ReadAll(dr)
	if err != nil {
		clear(der)
		return nil, fmt.Errorf("keystore: decrypt %s: corrupted or truncated: %w", name, err)
	}
	return der, nil
}
