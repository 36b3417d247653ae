package keymgr

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/signer"
)

// Route 53's statuses of a KSK and of a zone's signing.
const (
	StatusActive          = "ACTIVE"
	StatusInactive        = "INACTIVE"
	StatusActionNeeded    = "ACTION_NEEDED"
	StatusInternalFailure = "INTERNAL_FAILURE"
	StatusSigning         = "SIGNING"
	StatusNotSigning      = "NOT_SIGNING"
)

// kskFailure says which KSKs could not sign, and why.
type kskFailure struct {
	names []string
	err   error
}

func (e *kskFailure) Error() string {
	return fmt.Sprintf("KSK %s cannot sign: %v", strings.Join(e.names, ", "), e.err)
}

func (e *kskFailure) Unwrap() error { return e.err }

// material returns rec's signer (cached per key ID: opening a key may cost a TPM load or a
// passphrase derivation) and its DNSKEY. With lazy, a key not yet open whose public key the
// state records gets a lazySigner, which opens it at its first signature.
func (m *Manager) material(ctx context.Context, z *zone, rec *keyRec, flags uint16, lazy bool) (crypto.Signer, *dns.DNSKEY, error) {
	s, ok := z.signers[rec.ID]
	if !ok && lazy && len(rec.PublicKey) > 0 {
		store, err := m.storeOf(rec)
		if err != nil {
			return nil, nil, err
		}
		// A recorded public key that does not parse: the key is opened now instead.
		if l, err := m.lazy(z, rec, store); err == nil {
			s, ok = l, true
			z.signers[rec.ID] = s
		}
	}
	if !ok {
		store, err := m.storeOf(rec)
		if err == nil {
			s, err = store.Signer(ctx, rec.ID)
		}
		switch {
		case err == nil:
			if m.cfg.ObserveSign != nil {
				s = timedSigner{Signer: s, store: rec.Store, alg: rec.Algorithm, observe: m.cfg.ObserveSign}
			}
			z.signers[rec.ID] = s
		case m.canPublish(rec, flags):
			// Not cached: should this instance lead, its store is asked again.
			s, err = publicOnly(rec)
			if err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, err
		}
	}
	dk, err := signer.NewDNSKEY(z.name, flags, rec.Algorithm, s.Public(), z.dnskeyTTL())
	if err != nil {
		return nil, nil, err
	}
	return s, dk, nil
}

// ringKeys returns the signer keys of st at now: every key its timeline puts in the DNSKEY
// RRset or has sign, signing as the timeline says (a KSK signs whenever it is published, a ZSK
// between Active and Retire; in an algorithm rollover keys also sign while not published), and
// the key tags that CDS/CDNSKEY should name. Every call makes new Key values, so a ring never
// shares a Key with the one it replaces. With lazy, keys not yet open are opened at their
// first signature (material): for a ring whose KSK signatures are saved pre-made ones.
func (m *Manager) ringKeys(ctx context.Context, z *zone, st *zoneState, now time.Time, lazy bool) ([]*signer.Key, map[*signer.Key]string, []uint16, error) {
	var keys []*signer.Key
	names := map[*signer.Key]string{}
	var failed []string
	var firstErr error
	var cds []uint16
	var newest *kskRec
	for _, k := range st.KSKs {
		if !k.InDNSKEY(now) && !k.Signs(now) {
			continue
		}
		s, dk, err := m.material(ctx, z, &k.keyRec, dns.ZONE|dns.SEP, lazy)
		if err != nil {
			failed = append(failed, k.Name)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		key := signer.NewKey(dk, s, k.Signs(now))
		key.Unpublished = !k.InDNSKEY(now)
		keys = append(keys, key)
		names[key] = k.Name
		if key.Unpublished {
			continue
		}
		if k.InCDS(now) {
			cds = append(cds, key.Tag)
		}
		if newest == nil || k.Publish.After(newest.Publish) {
			newest = k
		}
	}
	if len(failed) > 0 {
		return nil, nil, nil, &kskFailure{names: failed, err: firstErr}
	}
	if len(cds) == 0 && newest != nil && st.publishedKSKs(now) > 1 && !z.policy.Rollover.KSKAutomatic && !st.kskPublishing(now) {
		// Route 53's manual rollover: two ACTIVE KSKs; the parent should move its DS to the
		// newer one (RFC 7344 §4). Not while a planned KSK (an algorithm rollover's) is
		// published but not yet in every cached DNSKEY RRset: its own CDS comes when it is.
		for key, name := range names {
			if name == newest.Name {
				cds = []uint16{key.Tag}
			}
		}
	}
	for _, k := range st.ZSKs {
		if !k.InDNSKEY(now) && !k.Signs(now) {
			continue
		}
		s, dk, err := m.material(ctx, z, k, dns.ZONE, lazy)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("ZSK %s: %w", k.ID, err)
		}
		key := signer.NewKey(dk, s, k.Signs(now))
		key.Unpublished = !k.InDNSKEY(now)
		keys = append(keys, key)
	}
	return keys, names, cds, nil
}

// kskPublishing reports whether a KSK is in the DNSKEY RRset at now but not yet ready (RFC
// 7583: a cached DNSKEY RRset may still lack it).
func (s *zoneState) kskPublishing(now time.Time) bool {
	return slices.ContainsFunc(s.KSKs, func(k *kskRec) bool { return k.InDNSKEY(now) && k.Ready.After(now) })
}

// ringOptions returns what the ring publishes beyond the DNSKEY RRset: the delete sentinels
// while disabling (RFC 8078 §4); CDS/CDNSKEY for the KSKs a rollover names (RFC 7344 §4),
// or, when the policy asks for CDS at all times, for every KSK that is a trust anchor.
func (z *zone) ringOptions(st *zoneState, keys []*signer.Key, cds []uint16, now time.Time) signer.RingOptions {
	opt := signer.RingOptions{DNSKEYTTL: z.dnskeyTTL(), Delete: st.DeleteSentinel, Validity: z.policy.Validity, Refresh: z.policy.Refresh}
	switch {
	case len(cds) > 0:
		opt.CDS, opt.CDSKeys = true, cds
	case z.policy.CDS:
		opt.CDS = true
		for _, k := range st.KSKs {
			if k.State(now) == rollover.Active && k.InDNSKEY(now) {
				for _, key := range keys {
					if key.KSK && key.Tag == k.Tag {
						opt.CDSKeys = append(opt.CDSKeys, key.Tag)
					}
				}
			}
		}
	}
	return opt
}

// build makes the ring st describes at now, with fresh pre-made KSK signatures in n validity
// windows (windows; to be persisted: premadeOf); nil when the zone is not signed. A
// *kskFailure names the KSKs that cannot sign.
func (m *Manager) build(ctx context.Context, z *zone, st *zoneState, now time.Time, n int) (*signer.KeyRing, error) {
	if !st.Signing {
		return nil, nil
	}
	// While AddZone starts the zone, its ZSKs open at their first signature, as in a ring
	// of saved pre-made signatures (reuse): a restart that must sign again (its saved
	// signatures gone or stale) opens only the KSKs, which sign now.
	lazy := z.starting && !z.policy.OpenKeys
	keys, names, cds, err := m.ringKeys(ctx, z, st, now, lazy)
	if err != nil {
		return nil, err
	}
	opt := z.ringOptions(st, keys, cds, now)
	ring, _, err := signer.NewPremadeKeyRing(z.name, keys, opt, now, n, PremadeStep, m.cfg.Signer)
	if err != nil {
		return nil, m.blame(z, keys, names, now, err)
	}
	return ring, nil
}

// install swaps ring in (nil: the zone goes unsigned) and records made, when its pre-made
// signatures were made (the next refresh is due a PremadeStep later).
func (z *zone) install(ring *signer.KeyRing, signing bool, made time.Time) {
	if ring == nil {
		z.cur.Store(nil)
	} else {
		z.cur.Store(&served{ring: ring, mode: z.policy.Mode})
	}
	// After the swap: a query that sees the new generation also sees the new ring.
	z.gen.Add(1)
	z.premadeAt = made
	z.partial = false
	z.signed.Store(signing)
}

// blame finds which active KSKs fail to sign, by signing with each alone, so that only
// those turn ACTION_NEEDED.
func (m *Manager) blame(z *zone, keys []*signer.Key, names map[*signer.Key]string, now time.Time, cause error) error {
	var failed []string
	for _, k := range keys {
		if !k.KSK || !k.Active {
			continue
		}
		opt := signer.RingOptions{DNSKEYTTL: z.dnskeyTTL(), Validity: z.policy.Validity, Refresh: z.policy.Refresh}
		if _, err := signer.PremakeKSKSigs(z.name, []*signer.Key{k}, opt, now, 1, 0, m.cfg.Signer); err != nil {
			failed = append(failed, names[k])
		}
	}
	if len(failed) == 0 {
		return cause // not a KSK's fault
	}
	return &kskFailure{names: failed, err: cause}
}

// markFailures records on next which KSKs failed (from err) and clears the others: a KSK
// that signed turns ACTIVE again by itself (Route 53 clears ACTION_NEEDED once KMS answers).
// It reports whether anything changed.
func markFailures(next *zoneState, err error, now time.Time) bool {
	var kf *kskFailure
	failing := map[string]bool{}
	msg := ""
	if errors.As(err, &kf) {
		for _, n := range kf.names {
			failing[n] = true
		}
		msg = kf.err.Error()
	}
	changed := false
	for _, k := range next.KSKs {
		switch {
		case failing[k.Name] && k.Failure == "":
			k.Failure, k.FailingSince, changed = msg, now, true
		case failing[k.Name] && k.Failure != msg:
			k.Failure, changed = msg, true
		case !failing[k.Name] && k.Failure != "" && err == nil:
			k.Failure, k.FailingSince, changed = "", time.Time{}, true
		}
	}
	return changed
}

// timedSigner reports how long each signature of its key takes (Config.ObserveSign).
type timedSigner struct {
	crypto.Signer
	store   string
	alg     uint8
	observe func(store string, algorithm uint8, took time.Duration)
}

// Sign implements crypto.Signer.
func (t timedSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	// Wall time of a keystore operation, for the latency metric (not a clock for logic).
	start := time.Now()
	sig, err := t.Signer.Sign(rand, digest, opts)
	if err == nil {
		t.observe(t.store, t.alg, time.Since(start))
	}
	return sig, err
}
