package tpm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/signetdns/signet/keystore"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// errForeignTPM means a key's blobs do not belong to the TPM at hand.
var errForeignTPM = errors.New("the key was created by a different TPM, or this TPM's owner hierarchy was cleared; it cannot be loaded")

func (s *Store) acquire(ctx context.Context) error {
	select {
	case s.tpmLock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) tryAcquire() bool {
	select {
	case s.tpmLock <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *Store) release() { <-s.tpmLock }

// do runs op with the TPM lock held, connecting first when needed, and
// retries what is worth retrying: a dead connection that had been idle (the
// TPM restarted since), busy warnings, and stale object handles.
func (s *Store) do(ctx context.Context, op func(transport.TPM) error) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	var reconnected, reloaded bool
	busy := 0
	for {
		if s.guard.Closed() {
			return keystore.ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		fresh := false
		if s.tpm == nil {
			if err := s.connect(); err != nil {
				return fmt.Errorf("TPM %s unreachable: %w", s.dev.spec, err)
			}
			fresh = true
		}
		err := op(s.tpm)
		switch {
		case err == nil:
			return nil
		case isConnError(err):
			s.disconnect()
			if !fresh && !reconnected {
				reconnected = true
				continue
			}
			return fmt.Errorf("TPM %s unreachable: %w", s.dev.spec, err)
		case isBusy(err) && busy < maxBusyRetries:
			busy++
			if err := sleep(ctx, time.Duration(busy)*20*time.Millisecond); err != nil {
				return err
			}
		case isStaleHandle(err) && !reloaded:
			reloaded = true
			s.forgetLoaded()
		default:
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isBusy reports warnings after which the same command may succeed (TPM 2.0
// Part 2 §6.6.3).
func isBusy(err error) bool {
	return errors.Is(err, tpm2.TPMRCRetry) || errors.Is(err, tpm2.TPMRCYielded) || errors.Is(err, tpm2.TPMRCTesting)
}

// isStaleHandle reports errors meaning our loaded objects are gone or the
// object slots are full: the TPM was reset under a live connection, or
// someone else flushed or filled it.
func isStaleHandle(err error) bool {
	return errors.Is(err, tpm2.TPMRCHandle) || errors.Is(err, tpm2.TPMRCReferenceH0) ||
		errors.Is(err, tpm2.TPMRCObjectMemory) || errors.Is(err, tpm2.TPMRCInitialize)
}

// connect dials the TPM. Without a resource manager it then flushes every
// transient object, since objects a previous process (or connection) left
// loaded stay there and fill the few object slots.
func (s *Store) connect() error {
	t, err := s.dev.dial(s.dialTimeout, s.cmdTimeout)
	if err != nil {
		return err
	}
	if !s.dev.rm {
		if err := flushAllTransient(t); err != nil {
			_ = t.Close()
			return err
		}
	}
	s.tpm = t
	s.loaded = nil
	return nil
}

func (s *Store) disconnect() {
	if s.tpm != nil {
		_ = s.tpm.Close()
	}
	s.tpm = nil
	s.loaded = nil
}

// forgetLoaded drops the loaded-key cache after a handle error, flushing
// what can be flushed so that nothing leaks.
func (s *Store) forgetLoaded() {
	if s.tpm == nil {
		return
	}
	if !s.dev.rm {
		if err := flushAllTransient(s.tpm); err != nil && isConnError(err) {
			s.disconnect()
			return
		}
	} else {
		for _, k := range s.loaded {
			_ = flush(s.tpm, k.handle)
		}
	}
	s.loaded = nil
}

// unload flushes id's key if it is loaded; the TPM lock must be held.
func (s *Store) unload(id string) {
	i := slices.IndexFunc(s.loaded, func(k loadedKey) bool { return k.id == id })
	if i < 0 {
		return
	}
	if s.tpm != nil {
		_ = flush(s.tpm, s.loaded[i].handle)
	}
	s.loaded = slices.Delete(s.loaded, i, i+1)
}

// handle returns a loaded handle for sg's key, loading it under a freshly
// re-created storage key when needed; the TPM lock must be held.
func (s *Store) handle(t transport.TPM, sg *signer) (loadedKey, error) {
	if i := slices.IndexFunc(s.loaded, func(k loadedKey) bool { return k.id == sg.id }); i >= 0 {
		k := s.loaded[i]
		s.loaded = append(slices.Delete(s.loaded, i, i+1), k) // most recent last
		return k, nil
	}
	for len(s.loaded) >= maxLoaded {
		if err := flush(t, s.loaded[0].handle); err != nil && isConnError(err) {
			return loadedKey{}, err
		}
		s.loaded = slices.Delete(s.loaded, 0, 1)
	}
	srk, err := createSRK(t)
	if err != nil {
		return loadedKey{}, err
	}
	defer func() { _ = flush(t, srk.handle) }()
	if !bytes.Equal(srk.name.Buffer, sg.srkName) {
		return loadedKey{}, fmt.Errorf("key %s: %w", sg.id, errForeignTPM)
	}
	rsp, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: srk.handle, Name: srk.name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    sg.private,
		InPublic:     sg.public,
	}.Execute(t)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCIntegrity) {
			return loadedKey{}, fmt.Errorf("key %s: %w: %w", sg.id, errForeignTPM, err)
		}
		return loadedKey{}, fmt.Errorf("key %s: load: %w", sg.id, err)
	}
	k := loadedKey{id: sg.id, handle: rsp.ObjectHandle, name: rsp.Name}
	s.loaded = append(s.loaded, k)
	return k, nil
}

type object struct {
	handle tpm2.TPMHandle
	name   tpm2.TPM2BName
	public tpm2.TPM2BPublic
}

// createSRK re-creates the storage root key from the owner seed. The TCG
// template makes it deterministic, so no persistent handle is needed (TCG TPM
// v2.0 Provisioning Guidance §7.5.1). The caller must flush it.
func createSRK(t transport.TPM) (object, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(t)
	if err != nil {
		return object{}, fmt.Errorf("create storage key: %w", err)
	}
	return object{handle: rsp.ObjectHandle, name: rsp.Name, public: rsp.OutPublic}, nil
}

// keyTemplate is the public template of a signing key (see the package doc
// for why each attribute is set).
var keyTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		SignEncrypt:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		CurveID: tpm2.TPMECCNistP256,
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	}),
}

// createKey makes a signing key under the storage key and returns the
// storage key's name and the marshalled public and private blobs.
func createKey(t transport.TPM, auth []byte) (srkName, public, private []byte, err error) {
	srk, err := createSRK(t)
	if err != nil {
		return nil, nil, nil, err
	}
	defer func() { _ = flush(t, srk.handle) }()
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: srk.handle, Name: srk.name, Auth: tpm2.PasswordAuth(nil)},
		InSensitive: tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
			UserAuth: tpm2.TPM2BAuth{Buffer: auth},
		}},
		InPublic: tpm2.New2B(keyTemplate),
	}.Execute(t)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create key: %w", err)
	}
	return srk.name.Buffer, tpm2.Marshal(rsp.OutPublic), tpm2.Marshal(rsp.OutPrivate), nil
}

func flush(t transport.TPM, h tpm2.TPMHandle) error {
	_, err := tpm2.FlushContext{FlushHandle: h}.Execute(t)
	return err
}

// flushAllTransient flushes every transient object (TPM 2.0 Part 3 §28.4).
func flushAllTransient(t transport.TPM) error {
	first := uint32(tpm2.TPMHTTransient) << 24
	for range 16 { // bounded: each round flushes what it lists
		rsp, err := tpm2.GetCapability{
			Capability:    tpm2.TPMCapHandles,
			Property:      first,
			PropertyCount: 64,
		}.Execute(t)
		if err != nil {
			return fmt.Errorf("list transient objects: %w", err)
		}
		hs, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			return fmt.Errorf("list transient objects: %w", err)
		}
		if len(hs.Handle) == 0 {
			return nil
		}
		for _, h := range hs.Handle {
			if err := flush(t, h); err != nil {
				return fmt.Errorf("flush transient object %#x: %w", uint32(h), err)
			}
		}
	}
	return errors.New("transient objects keep reappearing")
}

// publicKey converts a key's public area to an *ecdsa.PublicKey after
// checking it is a P-256 ECDSA signing key that cannot leave the TPM.
func publicKey(public *tpm2.TPM2BPublic) (*ecdsa.PublicKey, error) {
	p, err := public.Contents()
	if err != nil {
		return nil, fmt.Errorf("TPM public area: %w", err)
	}
	a := p.ObjectAttributes
	if p.Type != tpm2.TPMAlgECC || !a.FixedTPM || !a.SensitiveDataOrigin || !a.SignEncrypt {
		return nil, errors.New("TPM public area is not a TPM-generated, non-exportable ECC signing key")
	}
	parms, err := p.Parameters.ECCDetail()
	if err != nil {
		return nil, fmt.Errorf("TPM public area: %w", err)
	}
	point, err := p.Unique.ECC()
	if err != nil {
		return nil, fmt.Errorf("TPM public area: %w", err)
	}
	pub, err := tpm2.ECDSAPub(parms, point)
	if err != nil {
		return nil, fmt.Errorf("TPM public area: %w", err)
	}
	if pub.Curve != elliptic.P256() {
		return nil, errors.New("TPM key is not on P-256")
	}
	return pub, nil
}
