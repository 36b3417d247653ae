package keymgr

import (
	"context"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/keystore"
)

// Checker is an optional ability of a keystore.Store (found by type assertion): a
// cheap proof that the store's keys can be used now, such as keystore/tpm's Check, which
// asks the TPM to re-create its storage key. Check must honour ctx and be safe for
// concurrent use. A store without it is checked with a test signature by each KSK.
type Checker interface {
	Check(ctx context.Context) error
}

// checking reports whether the zone's KSKs are due for health checks: checks are enabled,
// a ring is served, and no KSK is already failing (its retries are its checks then).
func (m *Manager) checking(z *zone) bool {
	return m.cfg.KSKCheckInterval > 0 && z.st != nil && z.st.Signing && z.cur.Load() != nil && !z.failing()
}

// checkDue reports whether the KSKs' health check is due at now.
func (m *Manager) checkDue(z *zone, now time.Time) bool {
	return m.checking(z) && !now.Before(z.checkAt)
}

// check makes sure every KSK that signs at now still can, without touching the served ring
// (its pre-made signatures are what keeps the zone valid through an outage). A KSK that
// cannot turns ACTION_NEEDED at once, rather than at the next daily refresh, and a retry is
// scheduled: the refresh that succeeds turns it ACTIVE again and re-makes the signatures.
func (m *Manager) check(ctx context.Context, z *zone, now time.Time) {
	z.checkAt = now.Add(m.cfg.KSKCheckInterval)
	kf := m.probe(ctx, z, now)
	if kf == nil || ctx.Err() != nil {
		// Stopping: the keystores close once the loop's context is done, which is no
		// failure of the key.
		return
	}
	m.log.Warn("KSK health check failed", "zone", z.name, "err", kf, "serving", outageNote(z.premadeUntil(), now))
	m.kskFailed(ctx, z, kf, now)
}

// prove makes every KSK that signs at now sign once, after a start that served the zone from
// saved pre-made signatures without asking any KSK (reuse): a new process must prove each
// key it reloaded (for a TPM: the key's blobs load and the device signs), not only its
// store (a Check). A KSK that cannot turns ACTION_NEEDED, and the zone keeps serving the
// pre-made signatures, as a refresh at the start would have left it. The loop proves the
// zones one after another, so that the proofs of thousands of zones take one core for a few
// seconds after the start, and none of the start's time.
func (m *Manager) prove(ctx context.Context, z *zone, now time.Time) {
	z.prove = false
	var kf *kskFailure
	for _, k := range z.st.KSKs {
		if !k.InDNSKEY(now) || !k.Signs(now) {
			continue
		}
		if err := m.testSign(ctx, z, k, now); err != nil {
			if kf == nil {
				kf = &kskFailure{err: err}
			}
			kf.names = append(kf.names, k.Name)
		}
	}
	if kf == nil || ctx.Err() != nil {
		return // as in check: a failure while stopping is none of the key's
	}
	m.log.Warn("KSK cannot sign", "zone", z.name, "ksk", strings.Join(kf.names, ","), "err", kf.err,
		"serving", outageNote(z.premadeUntil(), now))
	m.kskFailed(ctx, z, kf, now)
}

// probe checks every KSK that signs at now and returns those that cannot, nil when all can.
func (m *Manager) probe(ctx context.Context, z *zone, now time.Time) *kskFailure {
	stores := map[keystore.Store]error{} // one Check per store and round
	var kf *kskFailure
	for _, k := range z.st.KSKs {
		if !k.InDNSKEY(now) || !k.Signs(now) {
			continue
		}
		if err := m.checkKSK(ctx, z, k, stores, now); err != nil {
			if kf == nil {
				kf = &kskFailure{err: err}
			}
			kf.names = append(kf.names, k.Name)
		}
	}
	return kf
}

// checkKSK checks one KSK: with its store's Check when the store has one, else with a
// signature by the key over its own DNSKEY, which proves the whole path to the key works.
func (m *Manager) checkKSK(ctx context.Context, z *zone, k *kskRec, stores map[keystore.Store]error, now time.Time) error {
	store, err := m.storeOf(&k.keyRec)
	if err != nil {
		return err
	}
	if c, ok := store.(Checker); ok {
		err, done := stores[store]
		if !done {
			err = c.Check(ctx)
			stores[store] = err
		}
		return err
	}
	return m.testSign(ctx, z, k, now)
}

// testSign makes one signature with k over its own DNSKEY, proving the whole path to the key
// (for a TPM: the key's blobs load and the device signs with them), not just its store.
func (m *Manager) testSign(ctx context.Context, z *zone, k *kskRec, now time.Time) error {
	s, dk, err := m.material(ctx, z, &k.keyRec, dns.ZONE|dns.SEP, false)
	if err != nil {
		return err
	}
	// The signature is thrown away; its validity is irrelevant.
	sig := &dns.RRSIG{
		Hdr:       dns.RR_Header{Ttl: dk.Hdr.Ttl},
		Algorithm: dk.Algorithm, OrigTtl: dk.Hdr.Ttl, KeyTag: dk.KeyTag(), SignerName: z.name,
		Inception: uint32(now.Unix()), Expiration: uint32(now.Add(time.Hour).Unix()),
	}
	return sig.Sign(s, []dns.RR{dk})
}
