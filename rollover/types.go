package rollover

import (
	"errors"
	"fmt"
	"time"

	"github.com/signetdns/signet/keystore"
)

// Key is one key's place in its zone's rollover timeline. keymgr stores it as JSON in the zone's
// state file. Every field after Created is a timestamp: a planned instant (possibly in the
// future) or an observed one. The key's State is derived from them and now, never stored,
// so a crash between two events loses nothing: on restart the same timestamps give
// the same state.
//
// A zero timestamp means "not planned (yet)". A timestamp in the future is planned: it is
// written when the action that decides it is executed (see Apply), so the whole remaining
// timeline of a ZSK rollover is known the moment it starts.
type Key struct {
	// ID is the keystore ID of the key.
	ID string `json:"id"`
	// Role is KSK or ZSK.
	Role keystore.Role `json:"role"`
	// Tag is the key tag (RFC 4034 Appendix B), for status output and DS matching.
	Tag uint16 `json:"tag"`
	// Algorithm is the DNSSEC algorithm number.
	Algorithm uint8 `json:"algorithm"`

	// Created is when the key was generated.
	Created time.Time `json:"created"`
	// Publish is when the key enters the DNSKEY RRset.
	Publish time.Time `json:"publish,omitzero"`
	// Ready is when every resolver that holds the zone's DNSKEY RRset holds one with this key in
	// it: Publish + PropagationDelay + DNSKEYTTL (RFC 7583 §3.2.1 Ipub). For a ZSK, Active
	// equals Ready, except in an algorithm rollover. For a KSK in an automatic rollover,
	// CDS/CDNSKEY for it appear at Ready.
	Ready time.Time `json:"ready,omitzero"`
	// Active is when a ZSK starts signing the zone's data; the new ZSK of an algorithm rollover
	// signs before it is published (RFC 6781 §4.1.4). For a KSK, it is when the key becomes the
	// zone's (only) trust anchor at the parent: its DS is at the parent and every cached DS
	// RRset contains it, so the old KSK may go. A KSK signs the DNSKEY RRset whenever it is
	// published (double-KSK, RFC 6781 §4.1.2), see Signs.
	Active time.Time `json:"active,omitzero"`
	// Retire is when a ZSK stops signing (its successor's Active). For a KSK the planner sets
	// Retire = Remove. In an algorithm rollover the old algorithm's keys leave the DNSKEY RRset
	// first and stop signing later (Retire after Remove, RFC 6781 §4.1.4).
	Retire time.Time `json:"retire,omitzero"`
	// Remove is when the key leaves the DNSKEY RRset. Once it has passed, the planner asks for
	// the key to be deleted from the keystore.
	Remove time.Time `json:"remove,omitzero"`

	// CDSPublish is when CDS and CDNSKEY records for this KSK appear at the apex (RFC 7344).
	CDSPublish time.Time `json:"cds_publish,omitzero"`
	// CDSRemove is when they are withdrawn again.
	CDSRemove time.Time `json:"cds_remove,omitzero"`
	// DSChecked is when the parent's name servers were last queried for this KSK's DS.
	DSChecked time.Time `json:"ds_checked,omitzero"`
	// DSSeen is since when every configured parent name server has returned this KSK's DS
	// (observed, or confirmed by an operator).
	DSSeen time.Time `json:"ds_seen,omitzero"`
	// DSGone is since when no configured parent name server returns this KSK's DS any more.
	DSGone time.Time `json:"ds_gone,omitzero"`
	// DSConfirmed is when an operator confirmed by hand that the parent shows this (new) KSK's
	// DS and no longer the old one (ConfirmDS). From then on the planner stops querying the
	// parent for this rollover, so a parent server that cannot be queried does not undo it.
	DSConfirmed time.Time `json:"ds_confirmed,omitzero"`
	// ActionNeeded is since when keymgr has found the key unusable for a reason outside the
	// timeline (a TPM that does not answer, a key missing from the keystore). Zero when fine.
	// The planner also derives ACTION_NEEDED itself for a KSK that waits too long for its DS.
	ActionNeeded time.Time `json:"action_needed,omitzero"`
}

// State is a key's RFC 7583 §3.1 state at a given moment.
type State uint8

// The key states, in timeline order. The zero State is invalid.
const (
	// Generated: the key exists but is not in the DNSKEY RRset.
	Generated State = iota + 1
	// Published: in the DNSKEY RRset, but resolvers may still hold RRsets without it.
	Published
	// Ready: every DNSKEY RRset a resolver may hold contains it. A KSK in an automatic
	// rollover waits here for its DS.
	Ready
	// Active: a ZSK signs; a KSK is the zone's trust anchor.
	Active
	// Retired: a ZSK no longer signs but stays published until its signatures have left
	// every cache.
	Retired
	// Removed: no longer in the DNSKEY RRset; the key may be deleted.
	Removed
)

var stateNames = [...]string{Generated: "generated", Published: "published", Ready: "ready", Active: "active", Retired: "retired", Removed: "removed"}

// String returns the lowercase RFC 7583 name of the state.
func (s State) String() string {
	if s >= Generated && s <= Removed {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler, for status JSON.
func (s State) MarshalText() ([]byte, error) {
	if s < Generated || s > Removed {
		return nil, fmt.Errorf("rollover: invalid state %d", uint8(s))
	}
	return []byte(s.String()), nil
}

// Policy holds a zone's rollover settings. The zero value of every field means its default,
// given in the field's comment, so Policy{} is a working policy; WithDefaults fills them in.
type Policy struct {
	// ZSKLifetime is how long a ZSK signs before its successor takes over. Default 30 days;
	// negative: never roll. The route53 preset draws it at random with Route53ZSKLifetime.
	ZSKLifetime time.Duration
	// KSKAutomatic selects the automatic double-KSK rollover (`ksk-rollover: automatic`).
	// When false (manual, Route 53's procedure) the planner never creates, retires or deletes
	// a KSK; the operator does, through keymgr.
	KSKAutomatic bool
	// KSKLifetime is how long a KSK is the trust anchor before an automatic rollover starts.
	// Default 365 days; only used when KSKAutomatic.
	KSKLifetime time.Duration
	// PropagationDelay is the time a change takes to reach every server answering for the
	// zone (RFC 7583 Dprp), plus a margin for keymgr swapping the key ring in. Default 5 min.
	PropagationDelay time.Duration
	// DNSKEYTTL is the TTL of the DNSKEY RRset (RFC 7583 TTLkey). Default 1 h.
	DNSKEYTTL time.Duration
	// MaxZoneTTL is the largest TTL of any RRset the ZSK signs, after the signer's one-week cap,
	// including negative answers (RFC 7583 TTLsig: an RRSIG's TTL is its RRset's). Default 1 day.
	MaxZoneTTL time.Duration
	// ParentDSTTL is the TTL of the DS RRset at the parent (RFC 7583 TTLds). Default 1 day,
	// the TTL .com uses.
	ParentDSTTL time.Duration
	// ParentPropagation is a margin for a DS change to reach every parent server beyond the
	// ones keymgr queries (RFC 7583 Dprp for the parent). Default 1 h.
	ParentPropagation time.Duration
	// DSCheckInterval is how often keymgr queries the parent's servers while a KSK waits for
	// its DS. Default 1 h.
	DSCheckInterval time.Duration
	// DSWaitLimit is how long a KSK may wait for the parent before it turns ACTION_NEEDED.
	// Default 7 days.
	DSWaitLimit time.Duration
	// Algorithm is the DNSSEC algorithm the zone's keys should use. When it differs from the
	// algorithm of the zone's active KSK, an algorithm rollover starts, with manual KSK
	// rollover too (as Knot and BIND do: the new KSK waits for its DS like any other).
	// Zero: keep the keys' algorithm.
	Algorithm uint8
}

// ActionKind names what an Action asks the executor to do.
//
// Publishing, activating, retiring and removing keys are not actions: they happen at the
// timestamps Apply wrote, and keymgr rebuilds the key ring at the next time Plan returns. Only
// the steps with a side effect outside the timeline (the keystore, the parent) or that depend
// on an observation are actions.
type ActionKind uint8

// The action kinds.
const (
	// CreateZSK: generate a ZSK in the keystore, then Apply: it starts a pre-publish
	// rollover (or, with no ZSK at all, makes the zone's first ZSK active at once).
	CreateZSK ActionKind = iota + 1
	// CreateKSK: generate a KSK, then Apply: it starts a double-KSK rollover (or, with no
	// KSK at all, makes the zone's first KSK active at once).
	CreateKSK
	// CheckParentDS: query every configured parent server for the zone's DS RRset, report
	// with RecordDS, then Apply (which notes the time of the check).
	CheckParentDS
	// SwapKSK: the parent shows the new DS and not the old: Apply schedules the new KSK's
	// Active and the old KSK's Retire and Remove after the parent's DS TTL.
	SwapKSK
	// Delete: the key has left the DNSKEY RRset and every cache; delete it from the keystore,
	// then Apply drops it from the state.
	Delete
)

var kindNames = [...]string{CreateZSK: "create-zsk", CreateKSK: "create-ksk", CheckParentDS: "check-parent-ds", SwapKSK: "swap-ksk", Delete: "delete"}

// String returns the kebab-case name of the kind.
func (k ActionKind) String() string {
	if k >= CreateZSK && k <= Delete {
		return kindNames[k]
	}
	return fmt.Sprintf("ActionKind(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k ActionKind) MarshalText() ([]byte, error) {
	if k < CreateZSK || k > Delete {
		return nil, fmt.Errorf("rollover: invalid action kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// Action is one step due now.
type Action struct {
	Kind ActionKind `json:"kind"`
	// Role is the role of the key the action creates or concerns.
	Role keystore.Role `json:"role"`
	// KeyID is the key concerned: the key to delete, the KSK waiting for its DS, the new KSK
	// for SwapKSK. Empty for the Create kinds (the key does not exist yet).
	KeyID string `json:"key_id,omitempty"`
	// At is when the action became due (at or before the now Plan was given).
	At time.Time `json:"at"`
	// Algorithm is, for the Create kinds, the DNSSEC algorithm the new key must have (zero:
	// the executor's default). It differs from the zone's in an algorithm rollover.
	Algorithm uint8 `json:"algorithm,omitempty"`
	// Emergency marks an action Emergency returned.
	Emergency bool `json:"emergency,omitempty"`
	// Why says, for logs and status, why the action is due.
	Why string `json:"why"`
}

// KeyStatus is one key's derived status.
type KeyStatus struct {
	ID    string        `json:"id"`
	Role  keystore.Role `json:"role"`
	Tag   uint16        `json:"tag"`
	State State         `json:"state"`
	// Next is the next planned transition (zero if none is planned) and NextState the
	// state it leads to.
	Next      time.Time `json:"next,omitzero"`
	NextState State     `json:"next_state,omitempty"`
	// InDNSKEY, Signs and InCDS say what the key does now.
	InDNSKEY bool `json:"in_dnskey"`
	Signs    bool `json:"signs"`
	InCDS    bool `json:"in_cds"`
	// NeedsAction is Route 53's ACTION_NEEDED, since NeedsActionSince; Note says why.
	NeedsAction      bool      `json:"needs_action"`
	NeedsActionSince time.Time `json:"needs_action_since,omitzero"`
	Note             string    `json:"note,omitempty"`
}

// Status is a zone's derived rollover status.
type Status struct {
	Keys []KeyStatus `json:"keys"`
	// Rolling is the role of the rollover in progress, zero if none. At most one rollover of a
	// zone runs at a time.
	Rolling keystore.Role `json:"rolling,omitempty"`
	// Paused is set while no new rollover may start because a KSK is ACTION_NEEDED (Route 53
	// pauses ZSK rotation then too); Reason says which.
	Paused bool   `json:"paused"`
	Reason string `json:"reason,omitempty"`
	// NextZSKRollover and NextKSKRollover are when the next rollover of each role is due to
	// start (zero: never, or not automatic). A due time in the past means it waits for the
	// rollover in progress or for the pause to end.
	NextZSKRollover time.Time `json:"next_zsk_rollover,omitzero"`
	NextKSKRollover time.Time `json:"next_ksk_rollover,omitzero"`
	// AlgorithmFrom and AlgorithmTo are set while an algorithm rollover runs or waits to
	// start: the algorithm the zone leaves and the one it moves to.
	AlgorithmFrom uint8 `json:"algorithm_from,omitempty"`
	AlgorithmTo   uint8 `json:"algorithm_to,omitempty"`
}

// NeedsAction reports whether any key of the zone is ACTION_NEEDED.
func (s Status) NeedsAction() bool {
	for _, k := range s.Keys {
		if k.NeedsAction {
			return true
		}
	}
	return false
}

// DSPresence is what a DS query at every configured parent server showed for one KSK.
type DSPresence uint8

// The DSPresence values.
const (
	// DSAtAll: every parent server returned the KSK's DS.
	DSAtAll DSPresence = iota + 1
	// DSAtSome: some did, some did not (the parent is mid-change). Nothing is recorded.
	DSAtSome
	// DSAtNone: no parent server returned it.
	DSAtNone
)

// DSCheck is the result of a parent DS check for one KSK.
type DSCheck struct {
	KeyID    string
	Presence DSPresence
}

// Errors the package returns.
var (
	// ErrRolloverInProgress: Emergency was asked for a role whose rollover is already
	// running; the running one is already the fastest safe sequence.
	ErrRolloverInProgress = errors.New("rollover: a rollover of this role is in progress")
	// ErrManualKSK: the zone's KSK rollover is manual (Route 53's procedure).
	ErrManualKSK = errors.New("rollover: KSK rollover is manual for this zone")
	// ErrNoKey: the action names a key that is not in the state, or Apply lacks the created key.
	ErrNoKey = errors.New("rollover: no such key")
)

// The planner's API, implemented in plan.go and apply.go:
//
//	func Plan(keys []Key, p Policy, now time.Time) (actions []Action, next time.Time, status Status)
//	func Apply(keys []Key, a Action, created Key, p Policy, now time.Time) ([]Key, error)
//	func Emergency(keys []Key, role keystore.Role, p Policy, now time.Time) ([]Action, error)
//	func RecordDS(keys []Key, checks []DSCheck, now time.Time) []Key
//	func ConfirmDS(keys []Key, id string, now time.Time) ([]Key, error)
//	func (k Key) State(now time.Time) State
//	func (k Key) InDNSKEY(now time.Time) bool
//	func (k Key) Signs(now time.Time) bool
//	func (k Key) InCDS(now time.Time) bool
