package keymgr

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/signetdns/signet/keystore"
)

// A start of thousands of zones whose saved pre-made signatures are reused needs no private
// key to serve them: the zone state records every key's public key, which makes the DNSKEY
// RRset, and the pre-made signatures stand for the KSKs'. Opening every key there (a
// decryption each in the file keystore) was most of such a start's CPU. So the rings a start
// builds hold lazy signers: a key is opened at its first signature (a query that needs one,
// the KSKs' proof after the start, or the KSKs' new signatures when the saved ones cannot be
// reused), and a zone nobody queries never opens its ZSK.

// openTimeout bounds the opening of a key at its first signature, which a query waits for.
const openTimeout = 10 * time.Second

// openRetry is how long a key that could not be opened is not asked of its store again: every
// signature until then fails at once, instead of each query repeating a failing decryption.
// The zone's retry (KSKRetryMin, with back-off) asks the store again as before.
const openRetry = time.Second

// lazySigner is a key's signer that opens the key in its store at its first signature.
// Public is the public key recorded in the zone's state; the key opened must be that one.
type lazySigner struct {
	id    string
	role  keystore.Role
	pub   crypto.PublicKey
	open  func(ctx context.Context) (crypto.Signer, error)
	now   func() time.Time
	fails func(id string, err error) // told of a failure to open the key

	opened atomic.Pointer[crypto.Signer] // once opened: read without mu on every signature

	mu       sync.Mutex // serializes the opening
	err      error      // the last failure to open
	failedAt time.Time
}

// lazy returns rec's lazy signer in store, built from its recorded public key.
func (m *Manager) lazy(z *zone, rec *keyRec, store keystore.Store) (*lazySigner, error) {
	pub, err := x509.ParsePKIXPublicKey(rec.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("key %s: recorded public key: %w", rec.ID, err)
	}
	id, which, alg := rec.ID, rec.Store, rec.Algorithm
	l := &lazySigner{id: id, role: rec.Role, pub: pub, now: m.cfg.Now}
	l.open = func(ctx context.Context) (crypto.Signer, error) {
		s, err := store.Signer(ctx, id)
		if err != nil {
			return nil, err
		}
		if m.cfg.ObserveSign != nil {
			s = timedSigner{Signer: s, store: which, alg: alg, observe: m.cfg.ObserveSign}
		}
		return s, nil
	}
	if rec.Role == keystore.ZSK {
		// A KSK's failures are found by its proof and the refreshes (ACTION_NEEDED); a
		// ZSK's by the query that needs it, which the zone's status must then show.
		l.fails = func(id string, err error) { m.openFailed(z, id, err) }
	}
	return l, nil
}

// Public implements crypto.Signer with the recorded public key.
func (l *lazySigner) Public() crypto.PublicKey { return l.pub }

// Sign implements crypto.Signer: it opens the key if it is not yet open, then signs.
func (l *lazySigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s, err := l.signer()
	if err != nil {
		return nil, err
	}
	return s.Sign(rand, digest, opts)
}

// signer returns the opened key. Once it is open, a signature (every signature-cache miss
// of the zone's answers) takes no lock; concurrent first signatures wait for one opening
// (the file keystore shares concurrent decryptions of a key anyway).
func (l *lazySigner) signer() (crypto.Signer, error) {
	if s := l.opened.Load(); s != nil {
		return *s, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.opened.Load(); s != nil {
		return *s, nil
	}
	now := l.now()
	if l.err != nil && now.Before(l.failedAt.Add(openRetry)) && !now.Before(l.failedAt) {
		return nil, l.err
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	s, err := l.open(ctx)
	if err == nil && !samePublic(s.Public(), l.pub) {
		err = fmt.Errorf("the key in the keystore is not the one the zone's state records")
	}
	if err != nil {
		l.err, l.failedAt = fmt.Errorf("%s %s: %w", l.role, l.id, err), now
		if l.fails != nil {
			l.fails(l.id, err)
		}
		return nil, l.err
	}
	l.err = nil
	l.opened.Store(&s)
	return s, nil
}

// samePublic reports whether two public keys are equal (every key type of the standard
// library has Equal).
func samePublic(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// openFailure is a lazy ZSK's failure to open, for the loop to record on its zone.
type openFailure struct {
	id  string
	err error
}

// openFailed records that a lazy ZSK of z could not be opened and wakes the loop, which
// makes the zone INTERNAL_FAILURE as a start that could not open the ZSK does (openFailures).
// It runs on the query path: it takes no lock.
func (m *Manager) openFailed(z *zone, id string, err error) {
	if z.openErr.CompareAndSwap(nil, &openFailure{id: id, err: err}) {
		m.poke()
	}
}

// openFailures handles a lazy ZSK's failure to open (openFailed) at the loop's step: the zone
// turns INTERNAL_FAILURE with the ZSK's error, the failure is logged, and the retry that
// rebuilds the ring asks the store for the key again (the served ring's answers that need the
// ZSK fail, SERVFAIL, until then). Call with z.mu held.
func (m *Manager) openFailures(z *zone, now time.Time) {
	f := z.openErr.Swap(nil)
	if f == nil {
		return
	}
	// The retry opens the key in its store, not through the lazy signer that failed.
	delete(z.signers, f.id)
	msg := fmt.Sprintf("ZSK %s: %v", f.id, f.err)
	if !z.keysFailed {
		z.keysFailed = true
		z.keyNote, z.keyNoted = &ZoneError{Zone: z.name, Err: errors.New(msg)}, true
	}
	if z.failure == msg {
		return // a retry found the same already
	}
	m.log.Error("ZSK cannot be opened: the zone's answers that need a signature fail until it can", "zone", z.name, "key", f.id, "err", f.err)
	z.failure = msg
	m.scheduleRetry(z, now)
}

// keysOpened records that a ring built with its keys open now serves the zone: a ZSK
// failure (keysFailed) is over, and OnKeyFailure is told. Call with z.mu held.
func (z *zone) keysOpened() {
	if z.keysFailed {
		z.keysFailed = false
		z.keyNote, z.keyNoted = nil, true
	}
}

// Reopen builds the zone's ring again at once, opening its keys, when a ZSK of its served
// ring could not be opened (OnKeyFailure): a host that withheld the zone calls it when asked
// to retry (a reload), rather than waiting for the zone's retry. It returns a *ZoneError
// while the key still cannot be opened, nil once the zone is served with its keys open (and
// OnKeyFailure is not told: the caller knows), and NoSuchHostedZone for a zone not added.
func (m *Manager) Reopen(ctx context.Context, zone string) error {
	z, err := m.zone(zone)
	if err != nil {
		return err
	}
	return m.change(z, func(now time.Time) error {
		if !z.keysFailed {
			return nil
		}
		// The loop's next step lists the keystores again: a damaged key entry repaired
		// for this retry leaves their report (UnreadableKeys).
		z.orphans.Store(true)
		m.refresh(ctx, z, now)
		if z.keysFailed {
			return &ZoneError{Zone: z.name, Err: errors.New(z.failure)}
		}
		z.keyNote, z.keyNoted = nil, false
		return nil
	})
}
