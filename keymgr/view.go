package keymgr

import (
	"fmt"
	"time"

	"github.com/signetdns/signet/rollover"
)

// view is an immutable picture of one zone, from which its Route 53 statuses and its
// metrics derive at any instant. zone.view takes one under the zone's lock; the metrics
// collector reads the last one published (zone.shown) without the lock, so that a scrape
// never waits for a step that is itself waiting for a TPM that does not answer.
type view struct {
	z       *zone      // for the name and policy only, both fixed once the zone is added
	st      *zoneState // nil when the zone has no DNSSEC resources; never modified once set
	failure string     // zone-level internal failure
	until   time.Time  // when the served ring's pre-made signatures run out; zero: none
	ring    bool       // a ring is served
}

// view returns the zone's current picture; call with z.mu held.
func (z *zone) view() *view {
	return &view{z: z, st: z.st, failure: z.failure, until: z.premadeUntil(), ring: z.cur.Load() != nil}
}

// status is the zone's Route 53 signing status and message at now. Call with z.mu held.
func (z *zone) status(now time.Time) (string, string) { return z.view().status(now) }

// planStatus returns the planner's view of the zone at now. Call with z.mu held.
func (z *zone) planStatus(now time.Time) rollover.Status { return z.view().planStatus(now) }

// kskStatuses returns the Route 53 status and message of every KSK of the zone, in order.
// Call with z.mu held.
func (z *zone) kskStatuses(now time.Time) (status, msg []string) { return z.view().kskStatuses(now) }

// planStatus returns the planner's view of the zone at now.
func (v *view) planStatus(now time.Time) rollover.Status {
	if v.st == nil {
		return rollover.Status{}
	}
	_, _, st := rollover.Plan(v.st.timelines(), v.z.policyFor(v.st), now)
	return st
}

// kskStatuses returns the Route 53 status and message of every KSK, in order, with the
// planner's status of each.
func (v *view) kskStatuses(now time.Time) (status, msg []string) {
	for _, ks := range v.kskDetails(now) {
		status, msg = append(status, ks.status), append(msg, ks.msg)
	}
	return status, msg
}

// kskDetail is one KSK's Route 53 status at an instant, and since when it needs action.
type kskDetail struct {
	k           *kskRec
	status, msg string
	since       time.Time // start of the ACTION_NEEDED condition; zero when none
}

func (v *view) kskDetails(now time.Time) []kskDetail {
	if v.st == nil {
		return nil
	}
	ps := v.planStatus(now)
	out := make([]kskDetail, 0, len(v.st.KSKs))
	for _, k := range v.st.KSKs {
		var ks rollover.KeyStatus
		for _, s := range ps.Keys {
			if s.ID == k.ID {
				ks = s
			}
		}
		d := kskDetail{k: k}
		d.status, d.msg = kskStatus(k, ks, v.until, now)
		if d.status == StatusActionNeeded {
			d.since = ks.NeedsActionSince
			if k.Failure != "" && (d.since.IsZero() || k.FailingSince.Before(d.since)) {
				d.since = k.FailingSince
			}
		}
		out = append(out, d)
	}
	return out
}

// kskStatus is a KSK's Route 53 status and status message at now, with ks its planner
// status and until when the served pre-made signatures run out (zero: none are served):
// ACTION_NEEDED when it cannot sign or has waited too long for its DS at the parent,
// INACTIVE when it is not in the DNSKEY RRset (never activated, deactivated, or rolled out),
// else ACTIVE (a KSK being rolled in is ACTIVE once it signs). The message says what
// validating resolvers get meanwhile, which depends on the pre-made signatures left.
func kskStatus(k *kskRec, ks rollover.KeyStatus, until, now time.Time) (string, string) {
	switch {
	case k.Failure != "" && k.InDNSKEY(now):
		return StatusActionNeeded, outageNote(until, now) + ": " + k.Failure
	case ks.NeedsAction:
		return StatusActionNeeded, ks.Note
	case !k.InDNSKEY(now):
		return StatusInactive, ""
	}
	return StatusActive, ks.Note
}

// outageNote says what is served while a KSK cannot sign.
func outageNote(until, now time.Time) string {
	switch {
	case until.IsZero():
		return "the key cannot sign, and no valid pre-made signatures are at hand: the zone is served unsigned, and fails validation where the parent has a DS"
	case !until.After(now):
		return fmt.Sprintf("the key cannot sign, and the pre-made signatures ran out at %s: DNSKEY answers fail", until.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("the key cannot sign: serving pre-made signatures valid until %s", until.UTC().Format(time.RFC3339))
}

// status is the zone's Route 53 signing status and message at now.
func (v *view) status(now time.Time) (string, string) {
	st := v.st
	if st == nil || !st.Signing {
		return StatusNotSigning, ""
	}
	if v.failure != "" {
		return StatusInternalFailure, v.failure
	}
	for _, d := range v.kskDetails(now) {
		if d.status == StatusActionNeeded {
			return StatusActionNeeded, fmt.Sprintf("KSK %s: %s", d.k.Name, d.msg)
		}
	}
	if !v.ring {
		return StatusActionNeeded, "no key ring: no active KSK could sign yet"
	}
	if st.DeleteSentinel {
		return StatusSigning, "CDS/CDNSKEY delete sentinels published (RFC 8078): the zone goes unsigned once the parent has removed its DS"
	}
	return StatusSigning, ""
}
