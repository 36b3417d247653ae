package keymgr

import (
	"context"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/signer"
)

// DNSSEC is GetDNSSEC's answer: the zone's signing status and its KSKs (Route 53's fields),
// plus every key, ZSKs too, with its rollover state and next transition, and the zone's
// rollover status.
type DNSSEC struct {
	Zone           string          `json:"Zone"`
	Status         Status          `json:"Status"`
	KeySigningKeys []KeySigningKey `json:"KeySigningKeys"`
	Keys           []KeyState      `json:"Keys"`
	Rollover       RolloverStatus  `json:"Rollover"`
}

// KeyState is one key's place in its rollover timeline (RFC 7583 §3.1 state), derived from
// its timestamps at the time of the call.
type KeyState struct {
	// Name is the KSK's name; empty for a ZSK.
	Name string `json:"Name,omitempty"`
	// Role is "KSK" or "ZSK".
	Role string `json:"Role"`
	// ID is the keystore ID.
	ID        string `json:"ID"`
	KeyTag    int    `json:"KeyTag"`
	Algorithm int    `json:"Algorithm"`
	// State is the RFC 7583 state: generated, published, ready, active, retired, removed.
	State string `json:"State"`
	// Status is the KSK's Route 53 status; empty for a ZSK.
	Status string `json:"Status,omitempty"`
	// InDNSKEY, Signs and InCDS say what the key does now.
	InDNSKEY bool `json:"InDNSKEY"`
	Signs    bool `json:"Signs"`
	InCDS    bool `json:"InCDS"`
	// Next is the key's next planned transition (absent when none is planned) and NextEvent
	// what happens then ("active", "removed", "rollover starts", ...).
	Next      time.Time `json:"Next,omitzero"`
	NextEvent string    `json:"NextEvent,omitempty"`
	// NeedsAction is Route 53's ACTION_NEEDED; Note says what the key waits for.
	NeedsAction bool   `json:"NeedsAction,omitempty"`
	Note        string `json:"Note,omitempty"`
	// Timestamps of the key's timeline, for the record.
	Created time.Time `json:"Created"`
	Publish time.Time `json:"Publish,omitzero"`
	Active  time.Time `json:"Active,omitzero"`
	Retire  time.Time `json:"Retire,omitzero"`
	Remove  time.Time `json:"Remove,omitzero"`
	DSSeen  time.Time `json:"DSSeen,omitzero"`
}

// RolloverStatus is the zone's rollover status.
type RolloverStatus struct {
	// KSKRollover is "manual" (Route 53's procedure) or "automatic".
	KSKRollover string `json:"KSKRollover"`
	// ZSKLifetime is the ZSK lifetime in effect (a Go duration), "never" when rotation is off.
	ZSKLifetime string `json:"ZSKLifetime"`
	// Rolling is the role of the rollover in progress ("KSK" or "ZSK"), empty if none.
	Rolling string `json:"Rolling,omitempty"`
	// Paused is set while no rollover may start because a KSK is ACTION_NEEDED; Reason says
	// which.
	Paused bool   `json:"Paused"`
	Reason string `json:"Reason,omitempty"`
	// NextZSKRollover and NextKSKRollover are when the next rollover of each role is due
	// (absent: never, or not automatic). A past time means it waits for the rollover in
	// progress or for the pause to end.
	NextZSKRollover time.Time `json:"NextZSKRollover,omitzero"`
	NextKSKRollover time.Time `json:"NextKSKRollover,omitzero"`
	// Algorithm is the algorithm the zone's keys should have (dnssec.algorithm).
	Algorithm int `json:"Algorithm"`
	// AlgorithmFrom and AlgorithmTo are set while an algorithm rollover runs or waits to start
	// (RFC 6781 §4.1.4); AlgorithmStep says where it stands.
	AlgorithmFrom int    `json:"AlgorithmFrom,omitempty"`
	AlgorithmTo   int    `json:"AlgorithmTo,omitempty"`
	AlgorithmStep string `json:"AlgorithmStep,omitempty"`
}

// Status is a zone's signing status, as Route 53's DNSSECStatus.
type Status struct {
	ServeSignature string `json:"ServeSignature"` // SIGNING, NOT_SIGNING, ACTION_NEEDED or INTERNAL_FAILURE
	StatusMessage  string `json:"StatusMessage,omitempty"`
}

// KeySigningKey describes one KSK with Route 53's fields, plus where the key is held and the
// DS and DNSKEY records in zone-file form. It never holds private key material.
type KeySigningKey struct {
	Name                     string    `json:"Name"`
	KeyStore                 string    `json:"KeyStore"` // "tpm" or "soft" (Route 53: KmsArn)
	Flag                     int       `json:"Flag"`
	SigningAlgorithmMnemonic string    `json:"SigningAlgorithmMnemonic"`
	SigningAlgorithmType     int       `json:"SigningAlgorithmType"`
	DigestAlgorithmMnemonic  string    `json:"DigestAlgorithmMnemonic"`
	DigestAlgorithmType      int       `json:"DigestAlgorithmType"`
	KeyTag                   int       `json:"KeyTag"`
	DigestValue              string    `json:"DigestValue"`
	PublicKey                string    `json:"PublicKey"`    // base64, as in the DNSKEY RDATA
	DSRecord                 string    `json:"DSRecord"`     // DS RDATA: "tag alg 2 digest"
	DNSKEYRecord             string    `json:"DNSKEYRecord"` // DNSKEY RDATA: "257 3 alg key"
	DSZoneFile               string    `json:"DSZoneFile"`   // the DS record in zone-file form
	DNSKEYZoneFile           string    `json:"DNSKEYZoneFile"`
	Status                   string    `json:"Status"`
	StatusMessage            string    `json:"StatusMessage,omitempty"`
	CreatedDate              time.Time `json:"CreatedDate"`
	LastModifiedDate         time.Time `json:"LastModifiedDate"`
}

// GetDNSSEC is Route 53's GetDNSSEC: the zone's signing status and every KSK.
func (m *Manager) GetDNSSEC(ctx context.Context, zone string) (*DNSSEC, error) {
	z, err := m.zone(zone)
	if err != nil {
		return nil, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	now := m.cfg.Now()
	out := &DNSSEC{Zone: z.name, KeySigningKeys: []KeySigningKey{}, Keys: []KeyState{}}
	out.Status.ServeSignature, out.Status.StatusMessage = z.status(now)
	out.Rollover = z.rolloverStatus(now)
	if z.st == nil {
		return out, nil
	}
	out.Keys = z.keyStates(now)
	statuses, msgs := z.kskStatuses(now)
	for i, k := range z.st.KSKs {
		info := KeySigningKey{
			Name:             k.Name,
			KeyStore:         k.Store,
			Flag:             int(dns.ZONE | dns.SEP),
			CreatedDate:      k.Created,
			LastModifiedDate: k.Modified,
		}
		info.Status, info.StatusMessage = statuses[i], msgs[i]
		if _, dk, err := m.material(ctx, z, &k.keyRec, dns.ZONE|dns.SEP, false); err != nil {
			// The public key comes from the keystore; without it the DS cannot be shown.
			info.Status, info.StatusMessage = StatusActionNeeded, "the keystore cannot open the key: "+err.Error()
		} else {
			fillDS(&info, dk)
		}
		out.KeySigningKeys = append(out.KeySigningKeys, info)
	}
	return out, nil
}

// rolloverStatus returns the zone's rollover status at now.
func (z *zone) rolloverStatus(now time.Time) RolloverStatus {
	p := z.rolloverPolicy()
	ps := z.planStatus(now)
	out := RolloverStatus{KSKRollover: "manual", ZSKLifetime: p.ZSKLifetime.String(), Paused: ps.Paused, Reason: ps.Reason,
		NextZSKRollover: ps.NextZSKRollover, NextKSKRollover: ps.NextKSKRollover}
	if p.KSKAutomatic {
		out.KSKRollover = "automatic"
	}
	if p.ZSKLifetime < 0 {
		out.ZSKLifetime = "never"
	}
	if ps.Rolling != 0 {
		out.Rolling = ps.Rolling.String()
	}
	out.Algorithm = int(p.Algorithm)
	if ps.AlgorithmFrom != 0 {
		out.AlgorithmFrom, out.AlgorithmTo = int(ps.AlgorithmFrom), int(ps.AlgorithmTo)
		out.AlgorithmStep = algorithmStep(z.st.timelines(), ps, now)
	}
	return out
}

// algorithmStep says where an algorithm rollover stands at now, in RFC 6781 §4.1.4's terms.
func algorithmStep(keys []rollover.Key, ps rollover.Status, now time.Time) string {
	var newKSK, newZSK, oldZSK *rollover.Key
	for i, k := range keys {
		switch {
		case k.Algorithm == ps.AlgorithmTo && k.Role == keystore.KSK:
			newKSK = &keys[i]
		case k.Algorithm == ps.AlgorithmTo:
			newZSK = &keys[i]
		case k.Role == keystore.ZSK:
			oldZSK = &keys[i]
		}
	}
	at := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	switch {
	case newZSK == nil:
		return "waits for the rollover in progress to end"
	case newZSK.State(now) == rollover.Generated:
		return "new signatures: the new ZSK signs every RRset; new keys published at " + at(newZSK.Publish)
	case newKSK != nil && newKSK.Active.IsZero() || newKSK != nil && newKSK.Active.After(now):
		if newKSK.Active.IsZero() {
			return "new DNSKEYs: waiting for the parent's DS to name the new KSK (CDS/CDNSKEY published)"
		}
		return "new DS: seen at the parent; old keys removed at " + at(newKSK.Active)
	case oldZSK != nil && oldZSK.Retire.After(now):
		return "DNSKEY removal: old keys withdrawn; their signatures stop at " + at(oldZSK.Retire)
	}
	return "RRSIGs removal: old keys deleted"
}

// keyStates returns every key's state at now, KSKs first, each with its next transition: the
// next instant of its timeline or, for the key a rollover will replace, that rollover's start.
func (z *zone) keyStates(now time.Time) []KeyState {
	ps := z.planStatus(now)
	statuses, _ := z.kskStatuses(now)
	var out []KeyState
	for i, k := range ps.Keys {
		rec := z.rec(k.ID)
		ks := KeyState{Role: k.Role.String(), ID: k.ID, KeyTag: int(k.Tag), State: k.State.String(),
			InDNSKEY: k.InDNSKEY, Signs: k.Signs, InCDS: k.InCDS, Next: k.Next,
			NeedsAction: k.NeedsAction, Note: k.Note}
		if k.NextState != 0 {
			ks.NextEvent = k.NextState.String()
		}
		if rec != nil {
			ks.Algorithm = int(rec.Algorithm)
			ks.Created, ks.Publish, ks.Active, ks.Retire, ks.Remove, ks.DSSeen = rec.Created, rec.Publish, rec.Active, rec.Retire, rec.Remove, rec.DSSeen
		}
		if k.Role == keystore.KSK {
			if ksk := z.st.kskByID(k.ID); ksk != nil {
				ks.Name = ksk.Name
			}
			if i < len(statuses) {
				ks.Status = statuses[i]
			}
		}
		if ks.Next.IsZero() && k.State == rollover.Active && ps.Rolling == k.Role {
			// The outgoing key of a running rollover: it retires when its successor is
			// established (for a KSK, once the parent's DS has changed), a time not yet known.
			ks.NextEvent = "retires when its successor takes over"
		} else if ks.Next.IsZero() && k.State == rollover.Active {
			due := ps.NextZSKRollover
			if k.Role == keystore.KSK {
				due = ps.NextKSKRollover
			}
			if !due.IsZero() {
				ks.Next, ks.NextEvent = due, "rollover starts"
			}
		}
		out = append(out, ks)
	}
	return out
}

// rec returns the record of the key with ID id.
func (z *zone) rec(id string) *keyRec {
	if k := z.st.kskByID(id); k != nil {
		return &k.keyRec
	}
	for _, k := range z.st.ZSKs {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// fillDS sets the DNSKEY and SHA-256 DS fields of info from dk (RFC 4034 §5.1.4, RFC 4509).
func fillDS(info *KeySigningKey, dk *dns.DNSKEY) {
	ds := signer.DS(dk)
	info.SigningAlgorithmType = int(dk.Algorithm)
	info.SigningAlgorithmMnemonic = dns.AlgorithmToString[dk.Algorithm]
	info.DigestAlgorithmType = int(ds.DigestType)
	info.DigestAlgorithmMnemonic = "SHA-256"
	info.KeyTag = int(ds.KeyTag)
	info.DigestValue = strings.ToUpper(ds.Digest)
	info.PublicKey = dk.PublicKey
	info.DSRecord = rdata(ds)
	info.DNSKEYRecord = rdata(dk)
	info.DSZoneFile = ds.String()
	info.DNSKEYZoneFile = dk.String()
}

// rdata returns the presentation form of rr's RDATA (the zone-file line minus the header).
func rdata(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}
