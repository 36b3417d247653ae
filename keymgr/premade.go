package keymgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
)

// premadeFile is what persists of a zone's pre-made KSK signatures, in <zone>.premade next
// to its state: RRSIGs in presentation form, public data like the DNSKEYs they cover. They
// outlive a restart during a KSK outage (a TPM that does not answer): the new process serves
// them, verified against the DNSKEY RRset it builds, for as long as they last (two weeks
// and more), instead of serving the zone unsigned (bogus under the parent's DS).
type premadeFile struct {
	Zone string `json:"zone"`
	// Made is when the signatures were made; the next refresh is due a PremadeStep later.
	Made   time.Time `json:"made"`
	RRSIGs []string  `json:"rrsigs"`
}

// premadeName maps a zone to its pre-made signature file. State files end in ".json", so
// no zone's state file can share a name with a zone's ".premade" file.
func (st *stateStore) premadeName(zone string) (string, error) {
	name, err := st.fileName(zone)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(name, ".json") + ".premade", nil
}

// savePremade writes the zone's pre-made signatures atomically (as save does the state).
func (st *stateStore) savePremade(zone string, made time.Time, sigs []*dns.RRSIG) error {
	name, err := st.premadeName(zone)
	if err != nil {
		return err
	}
	f := premadeFile{Zone: zone, Made: made, RRSIGs: make([]string, len(sigs))}
	for i, s := range sigs {
		f.RRSIGs[i] = s.String()
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("keymgr: encode pre-made signatures: %w", err)
	}
	return st.writeAtomic(name, b)
}

// loadPremade returns the zone's saved pre-made signatures and when they were made;
// fs.ErrNotExist (wrapped) when there are none.
func (st *stateStore) loadPremade(zone string) (time.Time, []*dns.RRSIG, error) {
	name, err := st.premadeName(zone)
	if err != nil {
		return time.Time{}, nil, err
	}
	b, err := os.ReadFile(filepath.Join(st.dir, name))
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("keymgr: read pre-made signatures: %w", err)
	}
	var f premadeFile
	if err := json.Unmarshal(b, &f); err != nil {
		return time.Time{}, nil, fmt.Errorf("keymgr: %s: %w", name, err)
	}
	if f.Zone != zone {
		return time.Time{}, nil, fmt.Errorf("keymgr: %s is for zone %q, not %q", name, f.Zone, zone)
	}
	sigs := make([]*dns.RRSIG, 0, len(f.RRSIGs))
	for _, line := range f.RRSIGs {
		rr, err := dns.NewRR(line)
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("keymgr: %s: %w", name, err)
		}
		sig, ok := rr.(*dns.RRSIG)
		if !ok || dns.CanonicalName(sig.SignerName) != zone {
			return time.Time{}, nil, fmt.Errorf("keymgr: %s: %q is not an RRSIG by %s", name, line, zone)
		}
		sigs = append(sigs, sig)
	}
	return f.Made, sigs, nil
}

// removePremade deletes the zone's saved pre-made signatures, if any.
func (st *stateStore) removePremade(zone string) error {
	name, err := st.premadeName(zone)
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(st.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("keymgr: %w", err)
	}
	return nil
}

// savePremade persists the pre-made signatures of the ring just installed (none: the zone
// is unsigned, and stale ones are removed). A failure is logged, not returned: the zone is
// served correctly, only a restart during a KSK outage would lack them.
func (m *Manager) savePremade(z *zone, sigs []*dns.RRSIG, made time.Time) {
	var err error
	if len(sigs) == 0 {
		err = m.states.removePremade(z.name)
	} else {
		err = m.states.savePremade(z.name, made, sigs)
	}
	if err != nil {
		m.log.Error("persist pre-made KSK signatures", "zone", z.name, "err", err)
	}
}

// fromDisk installs, for a zone with no ring whose KSK cannot sign, a ring made of its keys
// at now and the pre-made signatures saved by an earlier process. signer.NewKeyRing refuses
// signatures that do not verify over the ring's DNSKEY, CDS and CDNSKEY RRsets (the keys
// changed since), and fromDisk those that have run out: the zone then stays unsigned,
// and the status says so.
func (m *Manager) fromDisk(ctx context.Context, z *zone, st *zoneState, now time.Time) {
	ring, made, err := m.premadeRing(ctx, z, st, now)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.log.Warn("saved pre-made KSK signatures unusable", "zone", z.name, "err", err)
		}
		return
	}
	z.install(ring, st.Signing, made)
	m.log.Info("serving saved pre-made KSK signatures", "zone", z.name, "made", made, "valid_until", ring.PremadeValidUntil())
}

func (m *Manager) premadeRing(ctx context.Context, z *zone, st *zoneState, now time.Time) (*signer.KeyRing, time.Time, error) {
	made, sigs, err := m.states.loadPremade(z.name)
	if err != nil {
		return nil, time.Time{}, err
	}
	if made.After(now) {
		return nil, time.Time{}, fmt.Errorf("made at %s, after now (%s): the clock went back", made, now)
	}
	keys, _, cds, err := m.ringKeys(ctx, z, st, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	opt := z.ringOptions(st, keys, cds, now)
	opt.KSKSigs = sigs
	ring, err := signer.NewKeyRing(z.name, keys, opt, now, m.cfg.Signer)
	if err != nil {
		return nil, time.Time{}, err
	}
	if until := ring.PremadeValidUntil(); !until.After(now) {
		return nil, time.Time{}, fmt.Errorf("they ran out at %s", until)
	}
	return ring, made, nil
}
