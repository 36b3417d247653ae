package rollover

import (
	"fmt"
	"slices"
	"time"

	"github.com/signetdns/signet/keystore"
)

// Apply returns a copy of keys updated to record that the executor carried out a at now. For
// CreateZSK and CreateKSK, created is the key the executor just made in the keystore (ID, Role,
// Tag and Algorithm set); Apply writes its whole timeline and that of the key it replaces.
// For Delete, the executor deletes the key from the keystore first and Apply drops it.
//
// Every instant Apply writes is counted from now, the moment the action is carried out, never
// from the moment it became due: after an outage the intervals start again from the restart,
// so no interval is shortened by the time the server was down (see the package doc).
func Apply(keys []Key, a Action, created Key, p Policy, now time.Time) ([]Key, error) {
	p = p.WithDefaults()
	out := slices.Clone(keys)
	switch a.Kind {
	case CreateZSK, CreateKSK:
		return applyCreate(out, a, created, p, now)
	case CheckParentDS:
		i := find(out, a.KeyID)
		if i < 0 {
			return nil, fmt.Errorf("%w: %s", ErrNoKey, a.KeyID)
		}
		out[i].DSChecked = now
		return out, nil
	case SwapKSK:
		return applySwap(out, a, p, now)
	case Delete:
		i := find(out, a.KeyID)
		if i < 0 {
			return nil, fmt.Errorf("%w: %s", ErrNoKey, a.KeyID)
		}
		return slices.Delete(out, i, i+1), nil
	}
	return nil, fmt.Errorf("rollover: cannot apply action kind %v", a.Kind)
}

func find(keys []Key, id string) int {
	return slices.IndexFunc(keys, func(k Key) bool { return k.ID == id })
}

// applyCreate writes the timeline of a new key and of the keys it replaces.
//
// ZSK, pre-publish (RFC 6781 §4.1.1.1, RFC 7583 §3.2.1): the new key is published now and signs
// from now + Ipub; the old keys stop signing at that same instant and leave the DNSKEY RRset
// Iret later.
//
// KSK, double-KSK (RFC 6781 §4.1.2, RFC 7583 §3.3.2): the new key is published now and signs
// the DNSKEY RRset with the old one; after Ipub every cached DNSKEY RRset holds it, and its
// CDS/CDNSKEY appear (RFC 7344). Its Active and the old keys' Retire/Remove are written by
// SwapKSK once the parent has changed its DS RRset.
//
// Algorithm rollover (RFC 6781 §4.1.4), when the new key's algorithm is not the trust
// anchor's: the new ZSK signs every RRset from now but is published only Dprp + TTLsig later,
// once every cached RRset carries its signature, so that a DNSKEY RRset listing the new
// algorithm never meets cached data signed by the old one alone (RFC 4035 §2.2); the old ZSK
// signs on. The new KSK is published with it and, Ipub later, ready like any new KSK: its
// CDS/CDNSKEY appear and the parent's DS is awaited. SwapKSK then ends the rollover.
//
// A first key of its role (no live key of that role) is published and active at once.
func applyCreate(keys []Key, a Action, k Key, p Policy, now time.Time) ([]Key, error) {
	if k.ID == "" || k.Role != a.Role || find(keys, k.ID) >= 0 {
		return nil, fmt.Errorf("%w: %v needs the new key (with a fresh ID and role %v), got %q role %v", ErrNoKey, a.Kind, a.Role, k.ID, k.Role)
	}
	if k.Algorithm == 0 {
		k.Algorithm = a.Algorithm
	}
	if a.Algorithm != 0 && k.Algorithm != a.Algorithm {
		return nil, fmt.Errorf("%w: %v asks for algorithm %d, the new key has %d", ErrNoKey, a.Kind, a.Algorithm, k.Algorithm)
	}
	if k.Created.IsZero() {
		k.Created = now
	}
	var olds []int
	live := 0
	for i, o := range keys {
		if o.Role != k.Role || reached(o.Remove, now) {
			continue
		}
		live++
		if k.Role == keystore.ZSK && !o.Retire.IsZero() {
			continue // already retiring: its timeline stands
		}
		if o.State(now) < Active || rolling(o, now) {
			return nil, fmt.Errorf("%w: %v %d is not active yet", ErrRolloverInProgress, o.Role, o.Tag)
		}
		olds = append(olds, i)
	}
	if live > 0 && len(olds) == 0 {
		return nil, fmt.Errorf("%w: every %v is retiring", ErrRolloverInProgress, k.Role)
	}
	if anchor := anchorAlgorithm(keys, now); len(olds) > 0 && anchor != 0 && k.Algorithm != 0 && k.Algorithm != anchor {
		return append(keys, algorithmTimeline(keys, k, p, now)), nil
	}
	k.Publish = now
	if len(olds) == 0 {
		k.Ready, k.Active = now, now
		return append(keys, k), nil
	}
	k.Ready = now.Add(p.PublishInterval())
	if k.Role == keystore.KSK {
		k.CDSPublish = k.Ready
		return append(keys, k), nil
	}
	k.Active = k.Ready
	for _, i := range olds {
		keys[i].Retire = k.Active
		keys[i].Remove = k.Active.Add(p.RetireInterval())
	}
	return append(keys, k), nil
}

// algorithmTimeline returns the timeline of k, a new key of an algorithm rollover (see
// applyCreate). The KSK is published with the new algorithm's ZSK, or now if that moment has
// passed (a restart between the two creations: nothing was served in between).
func algorithmTimeline(keys []Key, k Key, p Policy, now time.Time) Key {
	if k.Role == keystore.ZSK {
		k.Active = now
		k.Publish = now.Add(p.RetireInterval())
		k.Ready = k.Publish.Add(p.PublishInterval())
		return k
	}
	k.Publish = now
	for _, z := range keys {
		if z.Role == keystore.ZSK && z.Algorithm == k.Algorithm && !reached(z.Remove, now) && z.Publish.After(k.Publish) {
			k.Publish = z.Publish
		}
	}
	k.Ready = k.Publish.Add(p.PublishInterval())
	k.CDSPublish = k.Ready
	return k
}

// applySwap writes (or calls off) the end of a double-KSK rollover: the new KSK becomes active,
// and the old ones retire and leave the DNSKEY RRset, at the swap time; the new KSK's
// CDS/CDNSKEY go too. The old KSKs stay published until no resolver can hold a DS RRset naming
// only them. Their own CDS windows, from the rollovers that brought them in, ended when they
// became active and are left as they are.
func applySwap(keys []Key, a Action, p Policy, now time.Time) ([]Key, error) {
	i := find(keys, a.KeyID)
	if i < 0 || !rolling(keys[i], now) {
		return nil, fmt.Errorf("%w: %s is not a KSK waiting for its DS", ErrNoKey, a.KeyID)
	}
	k := keys[i]
	t := swapTime(keys, k, p, now)
	olds := predecessors(keys, k, now)
	for _, o := range keys {
		if o.Role == keystore.ZSK && !reached(o.Remove, now) {
			olds = append(olds, o)
		}
	}
	for _, o := range olds {
		j := find(keys, o.ID)
		switch {
		case o.Role == keystore.KSK:
			keys[j].Retire, keys[j].Remove = t, t
		case o.Algorithm == k.Algorithm || o.Algorithm == 0 || k.Algorithm == 0:
			continue // a ZSK of the new algorithm: the swap does not concern it
		default:
			keys[j].Retire, keys[j].Remove = t, t
		}
		// An algorithm rollover: the old algorithm's keys, KSK and ZSK, leave the DNSKEY RRset
		// at the swap and sign on until no cached DNSKEY RRset lists them (RFC 6781 §4.1.4:
		// "DNSKEY removal", then "RRSIGs removal"), so that a resolver still holding one finds
		// every algorithm it lists on the data (RFC 4035 §2.2).
		if !t.IsZero() && o.Algorithm != k.Algorithm && o.Algorithm != 0 && k.Algorithm != 0 {
			keys[j].Retire = t.Add(p.PublishInterval())
		}
	}
	keys[i].Active, keys[i].CDSRemove = t, t
	return keys, nil
}

// RecordDS returns a copy of keys with the result of a parent DS check recorded: a DS seen at
// every parent server sets DSSeen (if unset), one seen at none sets DSGone (if unset). Anything
// else clears both, so that a parent that changes its mind restarts the wait rather than
// letting a stale observation count. keymgr applies the CheckParentDS action afterwards.
func RecordDS(keys []Key, checks []DSCheck, now time.Time) []Key {
	out := slices.Clone(keys)
	for _, c := range checks {
		i := find(out, c.KeyID)
		if i < 0 || out[i].Role != keystore.KSK {
			continue
		}
		k := &out[i]
		switch c.Presence {
		case DSAtAll:
			if k.DSSeen.IsZero() {
				k.DSSeen = now
			}
			k.DSGone = time.Time{}
		case DSAtNone:
			if k.DSGone.IsZero() {
				k.DSGone = now
			}
			k.DSSeen = time.Time{}
		default:
			k.DSSeen, k.DSGone = time.Time{}, time.Time{}
		}
	}
	return out
}

// ConfirmDS returns a copy of keys recording an operator's word that the parent now publishes
// the DS of KSK id and no longer those of the KSKs it replaces (Route 53's manual step, or a
// parent that cannot be queried). The DS TTL wait still follows (SwapKSK).
func ConfirmDS(keys []Key, id string, now time.Time) ([]Key, error) {
	i := find(keys, id)
	if i < 0 || !rolling(keys[i], now) {
		return nil, fmt.Errorf("%w: %s is not a KSK waiting for its DS", ErrNoKey, id)
	}
	out := slices.Clone(keys)
	for _, o := range predecessors(out, out[i], now) {
		j := find(out, o.ID)
		if out[j].DSGone.IsZero() {
			out[j].DSGone = now
		}
		out[j].DSSeen = time.Time{}
	}
	if out[i].DSSeen.IsZero() {
		out[i].DSSeen = now
	}
	out[i].DSGone, out[i].DSConfirmed = time.Time{}, now
	return out, nil
}

// Emergency returns the action that starts an immediate rollover of role, whatever the key's
// lifetime: the fastest sequence that keeps every cached answer valid. For a ZSK that is the
// pre-publish rollover with no wait before it starts: the new key signs after Ipub (Dprp +
// DNSKEY TTL, 1 h 5 min by default) and the old one leaves the DNSKEY RRset Iret later. (A
// compromised ZSK cannot be made useless sooner: it must stay published while resolvers hold
// signatures it made, and a resolver trusts it while it holds a DNSKEY RRset containing it.)
// For a KSK it is the double-KSK rollover started now; it needs automatic KSK rollover.
//
// Emergency ignores the "one rollover at a time" rule for the other role, since ZSK and KSK
// rollovers touch different RFC 7583 conditions, but refuses when a rollover of the same role
// is running (ErrRolloverInProgress): that one is already the fastest way out.
func Emergency(keys []Key, role keystore.Role, p Policy, now time.Time) ([]Action, error) {
	p = p.WithDefaults()
	kind := CreateZSK
	switch role {
	case keystore.ZSK:
	case keystore.KSK:
		if !p.KSKAutomatic {
			return nil, ErrManualKSK
		}
		kind = CreateKSK
	default:
		return nil, fmt.Errorf("rollover: invalid role %v", role)
	}
	if inProgress(keys, role, now) {
		return nil, ErrRolloverInProgress
	}
	if from, to := algorithmRunning(keys, now); from != to {
		// The algorithm rollover's keys of both roles are in motion: a third key of one role
		// would have no place in its timeline. It is itself the way to new keys.
		return nil, ErrRolloverInProgress
	}
	var alg uint8
	if k, ok := current(keys, role, now); ok {
		alg = k.Algorithm
	}
	return []Action{{Kind: kind, Role: role, Algorithm: alg, At: now, Emergency: true, Why: "emergency rollover requested"}}, nil
}
