package keymgr

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/signer"
)

// kskName is Route 53's KSK name syntax: 3 to 128 letters, digits and underscores.
var kskName = regexp.MustCompile(`^[A-Za-z0-9_]{3,128}$`)

// do runs op on the named zone (change), unless this Manager follows a leader.
func (m *Manager) do(ctx context.Context, name string, op func(z *zone, now time.Time) error) error {
	z, err := m.zone(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if leader, following := m.Following(); following {
		return errorf(CodeServiceUnavailable, "this instance follows the key leader %q: DNSSEC changes are made there", leader)
	}
	return m.change(z, func(now time.Time) error { return op(z, now) })
}

// change runs op under z's lock at the Manager's now, then publishes z's view for Health,
// wakes the loop and, when z's signing flipped, calls the OnChange callbacks (outside the
// lock).
func (m *Manager) change(z *zone, op func(now time.Time) error) error {
	z.mu.Lock()
	was := z.signed.Load()
	err := op(m.cfg.Now())
	flipped := was != z.signed.Load()
	note, noted := z.takeKeyNote()
	z.publish()
	z.mu.Unlock()
	m.poke()
	if flipped {
		m.changed(z.name)
	}
	if noted {
		m.keysChanged(z.name, note)
	}
	return err
}

// commit makes next the zone's state: it builds next's ring (refusing the change, with
// nothing altered, when the ring cannot be built), writes next to disk, and only then swaps
// the ring in, so what is served always matches what is persisted.
func (m *Manager) commit(ctx context.Context, z *zone, next *zoneState, now time.Time) error {
	n := m.windows(z)
	ring, err := m.build(ctx, z, next, now, n)
	if err != nil {
		var kf *kskFailure
		if errors.As(err, &kf) {
			return &Error{Code: CodeInvalidKeySigningKeyStatus, Message: err.Error(), Err: err}
		}
		return err
	}
	markFailures(next, nil, now)
	next.Modified = now
	if err := m.saveState(ctx, z, next); err != nil {
		return err
	}
	z.st = next
	z.failure = ""
	z.retryAt, z.backoff = time.Time{}, 0
	z.checkAt = now.Add(m.cfg.KSKCheckInterval)
	z.install(ring, next.Signing, now)
	z.keysOpened()
	if ring != nil && n < PremadeCount {
		m.fillLater(z)
	} else {
		m.savePremade(ctx, z, premadeOf(ring, now))
	}
	m.serving(z, next, now, now)
	return nil
}

// edit returns a copy of the zone's state to edit, or a new empty one.
func (z *zone) edit() *zoneState {
	if z.st == nil {
		return &zoneState{Version: stateVersion, Zone: z.name}
	}
	return z.st.clone()
}

// maxTagZero bounds how many new keys in a row may have key tag 0 before createKey gives up
// (each has a 1 in 65,536 chance: three in a row means something else is wrong).
const maxTagZero = 3

// createKey makes a key in the store its role belongs to and returns its record. A key whose
// DNSKEY has key tag 0 is deleted and made again: miekg/dns refuses to sign with key tag 0
// (as a tag left unset), so such a key, one in 65,536, could never sign, and the zone it was
// made for would fail to start.
func (m *Manager) createKey(ctx context.Context, z *zone, role keystore.Role, alg uint8, now time.Time) (*keyRec, error) {
	store, which := m.storeFor(role)
	if alg == 0 {
		alg = z.policy.Algorithm
	}
	flags := uint16(dns.ZONE)
	if role == keystore.KSK {
		flags |= dns.SEP
	}
	for range maxTagZero {
		meta, err := store.Create(ctx, z.name, role, alg)
		if err != nil {
			return nil, fmt.Errorf("create %s: %w", role, err)
		}
		rec := &keyRec{Key: rollover.Key{ID: meta.ID, Role: role, Algorithm: meta.Algorithm, Created: now}, Store: which, Backend: meta.Backend, Modified: now}
		s, err := store.Signer(ctx, meta.ID)
		if err != nil {
			m.dropKeys([]*keyRec{rec})
			return nil, fmt.Errorf("create %s: %w", role, err)
		}
		dk, err := signer.NewDNSKEY(z.name, flags, meta.Algorithm, s.Public(), z.dnskeyTTL())
		if err != nil {
			m.dropKeys([]*keyRec{rec})
			return nil, fmt.Errorf("create %s: %w", role, err)
		}
		if dk.KeyTag() != 0 {
			return rec, nil
		}
		m.log.Info("new key has key tag 0, which cannot sign: making another", "zone", z.name, "role", role)
		m.dropKeys([]*keyRec{rec})
	}
	return nil, fmt.Errorf("create %s: %d keys in a row had key tag 0", role, maxTagZero)
}

// dropKeys deletes keys created by an operation that then failed, so none is orphaned.
func (m *Manager) dropKeys(recs []*keyRec) {
	for _, r := range recs {
		if store, err := m.storeOf(r); err == nil {
			if err := store.Delete(context.Background(), r.ID); err != nil {
				m.log.Error("delete key of a failed operation", "key", r.ID, "err", err)
			}
		}
	}
}

// addKSK adds a new KSK named name to st, and a ZSK when st has none (Route 53 makes the ZSK
// with the first KSK). It returns the keys it created.
func (m *Manager) addKSK(ctx context.Context, z *zone, st *zoneState, name, status string, now time.Time) ([]*keyRec, error) {
	if !kskName.MatchString(name) {
		return nil, errorf(CodeInvalidKeySigningKeyName, "KSK name %q: 3 to 128 letters, digits or underscores", name)
	}
	switch status {
	case "":
		status = StatusActive
	case StatusActive, StatusInactive:
	default:
		return nil, errorf(CodeInvalidKeySigningKeyStatus, "a new KSK's status is ACTIVE or INACTIVE, not %q", status)
	}
	if st.ksk(name) != nil {
		return nil, errorf(CodeKeySigningKeyAlreadyExists, "zone %s already has a KSK named %s", z.name, name)
	}
	if z.policy.Rollover.KSKAutomatic && (status == StatusInactive || st.publishedKSKs(now) > 0) {
		return nil, errorf(CodeInvalidKeySigningKeyStatus, "zone %s rolls its KSK automatically: only its first KSK is created by hand, ACTIVE; use `signet ksk rollover` for a new one", z.name)
	}
	if len(st.KSKs) >= MaxKSKs {
		return nil, errorf(CodeTooManyKeySigningKeys, "zone %s already has %d KSKs; delete one first", z.name, MaxKSKs)
	}
	ksk, err := m.createKey(ctx, z, keystore.KSK, 0, now)
	if err != nil {
		return nil, err
	}
	created := []*keyRec{ksk}
	rec := &kskRec{keyRec: *ksk, Name: name}
	if status == StatusActive {
		rec.activate(now)
	} else {
		rec.deactivate(now)
	}
	if err := m.fillPublic(ctx, z, &rec.keyRec); err != nil {
		m.dropKeys(created)
		return nil, err
	}
	st.KSKs = append(st.KSKs, rec)
	if len(st.ZSKs) == 0 {
		zsk, err := m.firstZSK(ctx, z, now)
		if err != nil {
			m.dropKeys(created)
			return nil, err
		}
		st.ZSKs = append(st.ZSKs, zsk)
		created = append(created, zsk)
	}
	return created, nil
}

// firstZSK creates a zone's first ZSK, published and active at once: nothing it signed can
// be cached yet.
func (m *Manager) firstZSK(ctx context.Context, z *zone, now time.Time) (*keyRec, error) {
	zsk, err := m.createKey(ctx, z, keystore.ZSK, 0, now)
	if err != nil {
		return nil, err
	}
	zsk.Publish, zsk.Ready, zsk.Active = now, now, now
	if err := m.fillPublic(ctx, z, zsk); err != nil {
		m.dropKeys([]*keyRec{zsk})
		return nil, err
	}
	return zsk, nil
}

// fillPublic sets rec's key tag and public key (which lets the instances that do not hold
// a KSK publish it) from the key in its store.
func (m *Manager) fillPublic(ctx context.Context, z *zone, rec *keyRec) error {
	flags := uint16(dns.ZONE)
	if rec.Role == keystore.KSK {
		flags |= dns.SEP
	}
	s, dk, err := m.material(ctx, z, rec, flags, false)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		return fmt.Errorf("key %s: %w", rec.ID, err)
	}
	rec.Tag, rec.PublicKey = dk.KeyTag(), pub
	return nil
}

// activate makes the KSK's timeline Route 53's ACTIVE from now: published and signing the
// DNSKEY RRset at once (Route 53's manual procedure; the operator waits the TTLs).
func (k *kskRec) activate(now time.Time) {
	k.Key = rollover.Key{ID: k.ID, Role: keystore.KSK, Tag: k.Tag, Algorithm: k.Algorithm, Created: k.Created,
		Publish: now, Ready: now, Active: now}
}

// deactivate makes the KSK's timeline Route 53's INACTIVE from now: out of the DNSKEY RRset.
func (k *kskRec) deactivate(now time.Time) {
	if k.Publish.IsZero() || k.Publish.After(now) {
		k.Publish, k.Ready, k.Active = time.Time{}, time.Time{}, time.Time{}
	}
	k.Retire, k.Remove = now, now
	k.CDSPublish, k.CDSRemove = time.Time{}, time.Time{}
}

// publishedKSKs counts the KSKs in the DNSKEY RRset at now (Route 53's ACTIVE ones).
func (s *zoneState) publishedKSKs(now time.Time) int {
	n := 0
	for _, k := range s.KSKs {
		if k.InDNSKEY(now) {
			n++
		}
	}
	return n
}

// CreateKSK is Route 53's CreateKeySigningKey: it makes a new KSK named name with status
// ACTIVE (the default) or INACTIVE, in the TPM when one is configured, and the zone's ZSK if
// it has none. An ACTIVE KSK of a signing zone is published at once.
func (m *Manager) CreateKSK(ctx context.Context, zoneName, name, status string) error {
	return m.do(ctx, zoneName, func(z *zone, now time.Time) error {
		if err := z.checkNoInternalFailure(); err != nil {
			return err
		}
		if err := z.checkNoAlgorithmRollover(now); err != nil {
			return err
		}
		next := z.edit()
		created, err := m.addKSK(ctx, z, next, name, status, now)
		if err != nil {
			return err
		}
		commit := m.commit
		if status == StatusInactive && z.st != nil && z.failing() && len(z.st.ZSKs) > 0 {
			// An INACTIVE KSK leaves the DNSKEY RRset as it is, so the served ring and its
			// pre-made signatures stay valid although a KSK cannot sign a new one: the
			// successor of a KSK that is lost for good (see takeOver) can be made.
			commit = m.saveOnly
		}
		if err := commit(ctx, z, next, now); err != nil {
			m.dropKeys(created)
			return err
		}
		m.log.Info("KSK created", "zone", z.name, "ksk", name, "store", created[0].Store)
		return nil
	})
}

// checkNoInternalFailure refuses KSK changes while a KSK is INTERNAL_FAILURE, as Route 53
// does (InvalidKeySigningKeyStatus: "another KSK has the status INTERNAL_FAILURE").
func (z *zone) checkNoInternalFailure() error {
	if z.failure != "" {
		return errorf(CodeInvalidKeySigningKeyStatus, "zone %s is INTERNAL_FAILURE: %s", z.name, z.failure)
	}
	return nil
}

// checkNoAlgorithmRollover refuses an operator's KSK change while an algorithm rollover runs
// or waits to start (ConcurrentModification): the rollover places its own KSK, and a KSK of
// either algorithm added or withdrawn by hand would upset the order RFC 6781 §4.1.4 needs.
func (z *zone) checkNoAlgorithmRollover(now time.Time) error {
	if st := z.planStatus(now); st.AlgorithmFrom != 0 {
		return errorf(CodeConcurrentModification, "zone %s is in an algorithm rollover from %d to %d (signet dnssec status): its KSKs change by themselves until it ends", z.name, st.AlgorithmFrom, st.AlgorithmTo)
	}
	return nil
}

// findKSK returns the zone's KSK named name in st, or NoSuchKeySigningKey.
func (z *zone) findKSK(st *zoneState, name string) (*kskRec, error) {
	if st != nil {
		if k := st.ksk(name); k != nil {
			return k, nil
		}
	}
	return nil, errorf(CodeNoSuchKeySigningKey, "zone %s has no KSK named %q", z.name, name)
}

// ActivateKSK is Route 53's ActivateKeySigningKey: the KSK turns ACTIVE and, in a signing
// zone, is published and signs the DNSKEY RRset. Activating an ACTIVE KSK changes nothing.
func (m *Manager) ActivateKSK(ctx context.Context, zoneName, name string) error {
	return m.do(ctx, zoneName, func(z *zone, now time.Time) error {
		if _, err := z.findKSK(z.st, name); err != nil {
			return err
		}
		next := z.edit()
		k := next.ksk(name)
		if k.InDNSKEY(now) {
			return nil
		}
		if err := z.checkNoAlgorithmRollover(now); err != nil {
			return err
		}
		if z.policy.Rollover.KSKAutomatic && next.publishedKSKs(now) > 0 {
			return errorf(CodeInvalidKeySigningKeyStatus, "zone %s rolls its KSK automatically: use `signet ksk rollover` rather than activating another KSK", z.name)
		}
		if z.st.Signing && len(failingPublished(next, now)) > 0 {
			return m.takeOver(ctx, z, next, k, now)
		}
		k.activate(now)
		k.Modified = now
		return m.commit(ctx, z, next, now)
	})
}

// failingPublished returns the KSKs of st in the DNSKEY RRset at now that cannot sign.
func failingPublished(st *zoneState, now time.Time) []*kskRec {
	var out []*kskRec
	for _, o := range st.KSKs {
		if o.Failure != "" && o.InDNSKEY(now) {
			out = append(out, o)
		}
	}
	return out
}

// takeOver activates k in place of the published KSKs that cannot sign (a TPM-sealed KSK on
// a new machine, or a TPM lost for good) by the double-DS rollover of RFC 6781 §4.1.2: a KSK
// that cannot sign cannot sign a DNSKEY RRset holding k, so k cannot be pre-published as in a
// double-KSK rollover. Instead the parent publishes k's DS beside the old one first, and the
// DNSKEY RRset then goes from the old KSKs to k in one step. That step validates only for
// resolvers whose cached DS RRset names k, so it is taken only once every parent server has
// published k's DS for longer than the parent's propagation time and DS TTL: the first call
// that finds the DS records when (DSSeen) and says when to activate again. The ZSKs stay, so
// data signed before and after validates under either DNSKEY RRset.
func (m *Manager) takeOver(ctx context.Context, z *zone, next *zoneState, k *kskRec, now time.Time) error {
	var old []string
	for _, o := range failingPublished(next, now) {
		old = append(old, o.Name)
	}
	lost := strings.Join(old, ", ")
	if len(z.policy.Parents) == 0 {
		return errorf(CodeInvalidKeySigningKeyStatus, "KSK %s cannot sign, so activating %s replaces it at once (double-DS rollover), which is safe only once the parent publishes the DS of %s: configure the parent's name servers (zones[].parents) so that Signet can check", lost, k.Name, k.Name)
	}
	checks, err := m.dsChecks(ctx, z)
	if err != nil {
		return &Error{Code: CodeServiceUnavailable, Message: "cannot ask every parent server for the zone's DS", Err: err}
	}
	atAll := slices.ContainsFunc(checks, func(c rollover.DSCheck) bool { return c.KeyID == k.ID && c.Presence == rollover.DSAtAll })
	if !atAll {
		if !k.DSSeen.IsZero() {
			// The parent went back: the wait starts again when it shows the DS again.
			k.DSSeen, k.Modified = time.Time{}, now
			if err := m.saveOnly(ctx, z, next, now); err != nil {
				return err
			}
		}
		return errorf(CodeInvalidKeySigningKeyStatus, "KSK %s cannot sign, and not every parent server publishes the DS of %s yet: add it at the parent beside the DS of %s (signet ds %s), then activate %s again", lost, k.Name, lost, z.name, k.Name)
	}
	if k.DSSeen.IsZero() {
		k.DSSeen, k.Modified = now, now
		if err := m.saveOnly(ctx, z, next, now); err != nil {
			return err
		}
		next = z.edit() // what follows must not alter the state just saved
		k = next.ksk(k.Name)
	}
	if at := k.DSSeen.Add(z.rolloverPolicy().DSSwapInterval()); now.Before(at) {
		return errorf(CodeInvalidKeySigningKeyStatus, "every parent server publishes the DS of %s since %s, but resolvers may hold the parent's DS RRset without it until %s (parent propagation + parent DS TTL): activate %s again then",
			k.Name, k.DSSeen.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339), k.Name)
	}
	for _, o := range failingPublished(next, now) {
		o.deactivate(now)
		o.Modified = now
		o.Failure, o.FailingSince = "", time.Time{}
	}
	k.activate(now)
	k.Modified = now
	if err := m.commit(ctx, z, next, now); err != nil {
		return err
	}
	m.log.Warn("KSK replaced by a double-DS rollover: the old KSK could not sign", "zone", z.name, "ksk", k.Name, "replaced", lost)
	return nil
}

// saveOnly persists next without changing the served ring: for changes that leave the
// DNSKEY RRset as it is while a KSK cannot sign a new one.
func (m *Manager) saveOnly(ctx context.Context, z *zone, next *zoneState, now time.Time) error {
	next.Modified = now
	if err := m.saveState(ctx, z, next); err != nil {
		return err
	}
	z.st = next
	return nil
}

// DeactivateKSK is Route 53's DeactivateKeySigningKey: the KSK turns INACTIVE and leaves the
// DNSKEY RRset. It is refused for the only ACTIVE KSK of a signing zone (KeySigningKeyInUse)
// and, when parent servers are configured, for a KSK the parent's DS points at
// (KeySigningKeyInParentDSRecord): withdrawing it would make the zone bogus.
func (m *Manager) DeactivateKSK(ctx context.Context, zoneName, name string) error {
	return m.do(ctx, zoneName, func(z *zone, now time.Time) error {
		k, err := z.findKSK(z.st, name)
		if err != nil {
			return err
		}
		if !k.InDNSKEY(now) {
			return nil
		}
		if z.policy.Rollover.KSKAutomatic {
			return errorf(CodeInvalidKeySigningKeyStatus, "zone %s rolls its KSK automatically: KSKs are retired by the rollover (`signet ksk rollover`)", z.name)
		}
		if err := z.checkNoAlgorithmRollover(now); err != nil {
			return err
		}
		if z.st.Signing {
			others := slices.ContainsFunc(z.st.KSKs, func(o *kskRec) bool { return o != k && o.InDNSKEY(now) })
			if !others {
				return errorf(CodeKeySigningKeyInUse, "KSK %s is the only ACTIVE KSK of signing zone %s: disable signing, or create and activate another KSK first", name, z.name)
			}
			if err := m.checkParentDS(ctx, z, k); err != nil {
				return err
			}
		}
		next := z.edit()
		nk := next.ksk(name)
		nk.deactivate(now)
		nk.Modified = now
		nk.Failure, nk.FailingSince = "", time.Time{}
		return m.commit(ctx, z, next, now)
	})
}

// DeleteKSK is Route 53's DeleteKeySigningKey: an INACTIVE KSK is removed from the state and
// its private key deleted from the keystore.
func (m *Manager) DeleteKSK(ctx context.Context, zoneName, name string) error {
	return m.do(ctx, zoneName, func(z *zone, now time.Time) error {
		k, err := z.findKSK(z.st, name)
		if err != nil {
			return err
		}
		if k.InDNSKEY(now) {
			return errorf(CodeInvalidKeySigningKeyStatus, "KSK %s is ACTIVE: deactivate it before deleting it", name)
		}
		next := z.edit()
		next.KSKs = slices.DeleteFunc(next.KSKs, func(o *kskRec) bool { return o.Name == name })
		if err := m.commit(ctx, z, next, now); err != nil {
			return err
		}
		// The state no longer refers to the key: delete it for good. A failure here leaves an
		// unused key in the store, which is logged, not an error of the operation.
		delete(z.signers, k.ID)
		m.deleteFromStore(ctx, z, &k.keyRec)
		m.log.Info("KSK deleted", "zone", z.name, "ksk", name)
		return nil
	})
}

// Enable is Route 53's EnableHostedZoneDNSSEC: the zone is signed from now on. It needs an
// ACTIVE KSK (KeySigningKeyWithActiveStatusNotFound) that can sign. Enabling a zone that is
// being disabled withdraws the delete sentinels.
func (m *Manager) Enable(ctx context.Context, zoneName string) error {
	return m.do(ctx, zoneName, func(z *zone, now time.Time) error {
		if err := z.checkNoInternalFailure(); err != nil {
			return err
		}
		if z.st == nil || z.st.publishedKSKs(now) == 0 {
			return errorf(CodeKeySigningKeyWithActiveStatusNotFound, "zone %s has no ACTIVE KSK: create or activate one first", z.name)
		}
		if z.st.Signing && !z.st.DeleteSentinel {
			return nil
		}
		next := z.edit()
		var created []*keyRec
		if len(next.ZSKs) == 0 {
			zsk, err := m.firstZSK(ctx, z, now)
			if err != nil {
				return err
			}
			next.ZSKs, created = append(next.ZSKs, zsk), []*keyRec{zsk}
		}
		next.Signing, next.DeleteSentinel = true, false
		if err := m.commit(ctx, z, next, now); err != nil {
			m.dropKeys(created)
			return err
		}
		m.log.Info("DNSSEC signing enabled", "zone", z.name)
		return nil
	})
}

// Disable is Route 53's DisableHostedZoneDNSSEC: the zone is served unsigned. The KSKs keep
// their status. Route 53's safety rule applies: while a configured parent server still
// publishes a DS for the zone, Disable publishes the CDS/CDNSKEY delete sentinels (RFC 8078
// §4), so the parent can withdraw the DS, and refuses with KeySigningKeyInParentDSRecord;
// force skips the check. Without configured parents there is nothing to check.
func (m *Manager) Disable(ctx context.Context, zoneName string, force bool) error {
	return m.do(ctx, zoneName, func(z *zone, now time.Time) error {
		if z.st == nil {
			return errorf(CodeDNSSECNotFound, "zone %s has no DNSSEC configuration", z.name)
		}
		if !z.st.Signing {
			return nil
		}
		if !force && len(z.policy.Parents) > 0 {
			ds, err := m.parentDS(ctx, z)
			if err != nil {
				return &Error{Code: CodeServiceUnavailable, Message: "cannot ask the parent servers for the zone's DS (use --force to disable anyway)", Err: err}
			}
			if len(ds) > 0 {
				if !z.st.DeleteSentinel {
					next := z.edit()
					next.DeleteSentinel = true
					if err := m.commit(ctx, z, next, now); err != nil {
						return err
					}
				}
				return errorf(CodeKeySigningKeyInParentDSRecord, "the parent still publishes %d DS record(s) for %s: CDS/CDNSKEY delete sentinels are now published (RFC 8078) so it can remove them; disable again once it has, or use --force (validating resolvers will then fail the zone)", len(ds), z.name)
			}
		}
		next := z.edit()
		next.Signing, next.DeleteSentinel = false, false
		if err := m.commit(ctx, z, next, now); err != nil {
			return err
		}
		m.log.Info("DNSSEC signing disabled", "zone", z.name, "force", force)
		return nil
	})
}

// ring returns the ring currently served for the zone, nil when it is unsigned.
func (z *zone) ring() *signer.KeyRing {
	if s := z.cur.Load(); s != nil {
		return s.ring
	}
	return nil
}
