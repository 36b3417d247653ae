package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/signetdns/signet/keystore"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// signer implements crypto.Signer with a key inside the TPM.
type signer struct {
	store   *Store
	id      string
	pub     *ecdsa.PublicKey
	srkName []byte
	public  tpm2.TPM2BPublic
	private tpm2.TPM2BPrivate
	// auth is the key's authValue: not key material, but it is what lets a
	// process use the key, so it is never printed.
	auth     []byte
	authPath string
}

// Public implements crypto.Signer. It needs no TPM: the public key comes
// from the saved public area.
func (sg *signer) Public() crypto.PublicKey { return sg.pub }

// Sign implements crypto.Signer. digest must be a SHA-256 digest; the TPM
// signs it with its own random number generator, so rand is ignored. The
// result is an ASN.1 DER ECDSA-Sig-Value, as crypto/ecdsa returns, which
// miekg/dns converts to the r||s of RFC 6605 §4.
func (sg *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil || opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, errors.New("keystore: TPM keys sign SHA-256 digests only")
	}
	s := sg.store
	// Sign has no context; bound the wait for the lock and the retries.
	ctx, cancel := context.WithTimeout(context.Background(), s.dialTimeout+2*s.cmdTimeout)
	defer cancel()
	var r, ss *big.Int
	err := s.do(ctx, func(t transport.TPM) error {
		k, err := s.handle(t, sg)
		if err != nil {
			return err
		}
		rsp, err := tpm2.Sign{
			KeyHandle: tpm2.AuthHandle{Handle: k.handle, Name: k.name, Auth: tpm2.PasswordAuth(sg.auth)},
			Digest:    tpm2.TPM2BDigest{Buffer: digest},
			InScheme: tpm2.TPMTSigScheme{
				Scheme:  tpm2.TPMAlgECDSA,
				Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
			},
			// A null ticket: the key is not restricted, so the TPM does not
			// need proof that it hashed the data itself (Part 3 §20.2).
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}.Execute(t)
		if err != nil {
			if errors.Is(err, tpm2.TPMRCAuthFail) || errors.Is(err, tpm2.TPMRCBadAuth) {
				return fmt.Errorf("key %s: the TPM rejected the authorization value in %s: %w", sg.id, sg.authPath, err)
			}
			return fmt.Errorf("key %s: sign: %w", sg.id, err)
		}
		sig, err := rsp.Signature.Signature.ECDSA()
		if err != nil {
			return fmt.Errorf("key %s: sign: %w", sg.id, err)
		}
		r = new(big.Int).SetBytes(sig.SignatureR.Buffer)
		ss = new(big.Int).SetBytes(sig.SignatureS.Buffer)
		return nil
	})
	if err != nil {
		if errors.Is(err, keystore.ErrClosed) {
			return nil, err
		}
		return nil, fmt.Errorf("keystore: %w", err)
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{r, ss})
	if err != nil {
		return nil, fmt.Errorf("keystore: encode signature: %w", err)
	}
	s.sigs.Add(1)
	return der, nil
}

// String keeps fmt from printing the authorization value.
func (sg *signer) String() string { return "TPM key " + sg.id }

// GoString keeps fmt's %#v from printing the authorization value.
func (sg *signer) GoString() string { return sg.String() }
