package keymgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/statestore"
)

// premadeDoc is what persists of a zone's pre-made KSK signatures (statestore.Premade):
// RRSIGs in presentation form, public data like the DNSKEYs they cover. They outlive a
// restart during a KSK outage (a TPM that does not answer): the new process serves them,
// verified against the DNSKEY RRset it builds, for as long as they last (two weeks and
// more), instead of serving the zone unsigned (bogus under the parent's DS).
type premadeDoc struct {
	Zone string `json:"zone"`
	// Made is when the signatures were made; the next refresh is due a PremadeStep later.
	Made   time.Time `json:"made"`
	RRSIGs []string  `json:"rrsigs"`
	// Wire is RRSIGs in wire form, the same records in the same order: a start unpacks them
	// with dns.UnpackRR instead of running the zone-file lexer over each line (a tenth of a
	// restart's CPU with ten thousand zones). Absent in a document from an older version:
	// RRSIGs are parsed then.
	Wire [][]byte `json:"wire,omitempty"`
	// Digest is the served ring's signer.KeyRing.PremadeDigest: a later ring whose keys make
	// the same RRsets takes the signatures without verifying each one again. Absent in a
	// document from an older version: they are verified then.
	Digest []byte `json:"digest,omitempty"`
}

// premadeSet is a zone's saved pre-made signatures as decoded.
type premadeSet struct {
	made   time.Time
	sigs   []*dns.RRSIG
	digest []byte
}

func encodePremade(zone string, p premadeSet) ([]byte, error) {
	f := premadeDoc{Zone: zone, Made: p.made, RRSIGs: make([]string, len(p.sigs)), Wire: make([][]byte, len(p.sigs)), Digest: p.digest}
	buf := make([]byte, dns.MaxMsgSize)
	for i, s := range p.sigs {
		f.RRSIGs[i] = s.String()
		// PackRR writes the header's Rdlength, and served rings' signatures are read by
		// queries meanwhile: pack a copy.
		n, err := dns.PackRR(dns.Copy(s), buf, 0, nil, false)
		if err != nil {
			return nil, fmt.Errorf("keymgr: encode pre-made signatures: %w", err)
		}
		f.Wire[i] = slices.Clone(buf[:n])
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keymgr: encode pre-made signatures: %w", err)
	}
	return b, nil
}

// decodePremade parses zone's pre-made signature document, refusing any record that is
// not an RRSIG by the zone.
func decodePremade(zone string, b []byte) (premadeSet, error) {
	var f premadeDoc
	if err := json.Unmarshal(b, &f); err != nil {
		return premadeSet{}, fmt.Errorf("keymgr: pre-made signatures of %s: %w", zone, err)
	}
	if f.Zone != zone {
		return premadeSet{}, fmt.Errorf("keymgr: pre-made signatures of %s are for zone %q", zone, f.Zone)
	}
	wire := len(f.Wire) == len(f.RRSIGs)
	sigs := make([]*dns.RRSIG, 0, len(f.RRSIGs))
	for i, line := range f.RRSIGs {
		var rr dns.RR
		var err error
		if wire {
			var off int
			if rr, off, err = dns.UnpackRR(f.Wire[i], 0); err == nil && off != len(f.Wire[i]) {
				err = errors.New("trailing octets")
			}
		} else {
			rr, err = dns.NewRR(line)
		}
		if err != nil {
			return premadeSet{}, fmt.Errorf("keymgr: pre-made signatures of %s: record %d: %w", zone, i, err)
		}
		sig, ok := rr.(*dns.RRSIG)
		if !ok || dns.CanonicalName(sig.SignerName) != zone {
			return premadeSet{}, fmt.Errorf("keymgr: pre-made signatures of %s: %q is not an RRSIG by the zone", zone, rr)
		}
		sigs = append(sigs, sig)
	}
	return premadeSet{made: f.Made, sigs: sigs, digest: f.Digest}, nil
}

// loadPremade returns the zone's saved pre-made signatures; statestore.ErrNotFound (wrapped)
// when there are none. Call with z.mu held.
func (m *Manager) loadPremade(ctx context.Context, z *zone) (premadeSet, error) {
	if b := z.startPremade; b != nil {
		z.startPremade = nil
		return decodePremade(z.name, b)
	}
	b, rev, err := m.load(ctx, z.name, statestore.Premade)
	if err != nil {
		return premadeSet{}, fmt.Errorf("keymgr: read pre-made signatures: %w", err)
	}
	z.premadeRev = rev
	return decodePremade(z.name, b)
}

// premadeRevision returns the revision of the zone's saved pre-made signatures (0: none), the
// revision the next save of them must replace.
func (m *Manager) premadeRevision(ctx context.Context, zone string) (statestore.Revision, error) {
	_, rev, err := m.load(ctx, zone, statestore.Premade)
	if err != nil && !errors.Is(err, statestore.ErrNotFound) {
		return 0, fmt.Errorf("keymgr: read pre-made signatures: %w", err)
	}
	return rev, nil
}

// savePremade persists the pre-made signatures of the ring just installed (none: the zone
// is unsigned, and stale ones are removed), and the local copy of the ring's state. A failure
// is logged, not returned: the zone is served correctly, only a restart during a KSK (or
// shared store) outage would lack them.
func (m *Manager) savePremade(ctx context.Context, z *zone, p premadeSet) {
	if err := m.storePremade(ctx, z, p); err != nil {
		m.log.Error("persist pre-made KSK signatures", "zone", z.name, "err", err)
	}
	m.keepLocal(ctx, z, z.st, p)
}

// premadeOf returns the pre-made signatures ring serves (none when ring is nil), made at made.
func premadeOf(ring *signer.KeyRing, made time.Time) premadeSet {
	if ring == nil {
		return premadeSet{made: made}
	}
	return premadeSet{made: made, sigs: ring.Premade(), digest: ring.PremadeDigest()}
}

func (m *Manager) storePremade(ctx context.Context, z *zone, p premadeSet) error {
	ctx, cancel := context.WithTimeout(ctx, persistTimeout)
	defer cancel()
	if len(p.sigs) == 0 {
		if err := m.cfg.State.Delete(ctx, z.name, statestore.Premade, z.premadeRev); err != nil {
			return err
		}
		z.premadeRev = 0
		return nil
	}
	b, err := encodePremade(z.name, p)
	if err != nil {
		return err
	}
	rev, err := m.cfg.State.Save(ctx, z.name, statestore.Premade, b, z.premadeRev)
	if err != nil {
		return err
	}
	z.premadeRev = rev
	return nil
}

// fromDisk installs, for a zone with no ring whose KSK cannot sign, a ring made of its keys
// at now and the pre-made signatures saved by an earlier process. signer.NewKeyRing refuses
// signatures that do not verify over the ring's DNSKEY, CDS and CDNSKEY RRsets (the keys
// changed since), and fromDisk those that have run out: the zone then stays unsigned,
// and the status says so.
func (m *Manager) fromDisk(ctx context.Context, z *zone, st *zoneState, now time.Time) {
	ring, p, err := m.premadeRing(ctx, z, st, now)
	if err != nil {
		if !errors.Is(err, statestore.ErrNotFound) {
			m.log.Warn("saved pre-made KSK signatures unusable", "zone", z.name, "err", err)
		}
		return
	}
	z.install(ring, st.Signing, p.made)
	m.serving(z, st, now, now)
	m.log.Info("serving saved pre-made KSK signatures", "zone", z.name, "made", p.made, "valid_until", ring.PremadeValidUntil())
}

func (m *Manager) premadeRing(ctx context.Context, z *zone, st *zoneState, now time.Time) (*signer.KeyRing, premadeSet, error) {
	p, err := m.loadPremade(ctx, z)
	if err != nil {
		return nil, premadeSet{}, err
	}
	made := p.made
	if made.After(now) {
		return nil, premadeSet{}, fmt.Errorf("made at %s, after now (%s): the clock went back", made, now)
	}
	// A follower serves the ring the leader made the signatures for: the keys as they were
	// when they were made, even if a key's timeline has moved on since (an etcd outage, a
	// restart), until the leader makes a new ring.
	// A leader's ring opens its keys at their first signature (lazySigner). A follower's
	// opens its ZSKs now: a ring with a ZSK this instance cannot open is not served (see
	// canPublish), and the follower tries again later.
	at := now
	_, following := m.Following()
	if following {
		at = made
	}
	keys, _, cds, err := m.ringKeys(ctx, z, st, at, !following && !z.policy.OpenKeys)
	if err != nil {
		return nil, premadeSet{}, err
	}
	opt := z.ringOptions(st, keys, cds, at)
	opt.KSKSigs, opt.KSKSigsDigest = p.sigs, p.digest
	ring, err := signer.NewKeyRing(z.name, keys, opt, now, m.cfg.Signer)
	if err != nil {
		return nil, premadeSet{}, err
	}
	if until := ring.PremadeValidUntil(); !until.After(now) {
		return nil, premadeSet{}, fmt.Errorf("they ran out at %s", until)
	}
	return ring, premadeOf(ring, made), nil
}

// reuse installs, at a start, the ring of the pre-made signatures an earlier process saved
// when they are what a refresh would make again: made less than a PremadeStep ago and after
// the last instant of a key's timeline (the keys are those they were made for), no KSK
// failing, a full set for every active KSK, and covering the DNSKEY, CDS and CDNSKEY RRsets
// the keys make now (shown by the digest saved with them, else by verifying each). It
// writes nothing, as nothing changed: a refresh would sign 15 windows per RRset and KSK and
// save them, which for thousands of zones makes a restart wait minutes on fsync. It opens no
// key either: the ring is built from the public keys the state records, and its keys open
// at their first signature (lazySigner). That the KSKs still sign, which a refresh would have
// shown, is proved by the loop's first step after the start (prove): a KSK that cannot
// turns ACTION_NEEDED then, with the zone served from these same signatures, as a refresh
// would have left it. It reports whether it installed a ring; when not, the caller
// refreshes. Call with z.mu held.
func (m *Manager) reuse(ctx context.Context, z *zone, now time.Time) bool {
	if z.failing() || z.cur.Load() != nil {
		return false
	}
	p, err := m.loadPremade(ctx, z)
	made := p.made
	if err != nil || made.After(now) || !now.Before(made.Add(PremadeStep)) {
		return false
	}
	for _, t := range z.st.boundaries() {
		if t.After(made) && !t.After(now) {
			return false
		}
	}
	keys, _, cds, err := m.ringKeys(ctx, z, z.st, now, !z.policy.OpenKeys)
	if err != nil {
		return false
	}
	opt := z.ringOptions(z.st, keys, cds, now)
	opt.KSKSigs, opt.KSKSigsDigest = p.sigs, p.digest
	ring, err := signer.NewKeyRing(z.name, keys, opt, now, m.cfg.Signer)
	if err != nil {
		m.log.Info("saved pre-made KSK signatures not reused: making new ones", "zone", z.name, "err", err)
		return false
	}
	// A set made at made reaches at least its last window, (PremadeCount-1) steps later;
	// less means signatures are missing (a KSK without any gives the zero time).
	if ring.PremadeValidUntil().Before(made.Add((PremadeCount - 1) * PremadeStep)) {
		return false
	}
	z.install(ring, true, made)
	z.prove = true
	if m.cfg.Local != nil {
		m.keepLocal(ctx, z, z.st, premadeOf(ring, made)) // premadeOf hashes the RRsets
	}
	m.serving(z, z.st, now, now)
	z.failure = ""
	z.retryAt, z.backoff = time.Time{}, 0
	z.checkAt = now.Add(m.cfg.KSKCheckInterval)
	return true
}
