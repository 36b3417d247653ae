package rollover

import (
	"time"

	"github.com/signetdns/signet/keystore"
)

// reached reports whether the planned instant t is set and has come by now.
func reached(t, now time.Time) bool { return !t.IsZero() && !now.Before(t) }

// within reports whether now lies in [from, until), with a zero until meaning "forever".
func within(from, until, now time.Time) bool {
	return reached(from, now) && (until.IsZero() || now.Before(until))
}

// State returns the key's RFC 7583 state at now, derived from its timestamps alone: the latest
// timestamp that has been reached wins. A key not yet published is Generated, even if it
// already signs (the new ZSK of an algorithm rollover).
func (k Key) State(now time.Time) State {
	switch {
	case reached(k.Remove, now):
		return Removed
	case !reached(k.Publish, now):
		return Generated
	case reached(k.Retire, now):
		return Retired
	case reached(k.Active, now):
		return Active
	case reached(k.Ready, now):
		return Ready
	case reached(k.Publish, now):
		return Published
	}
	return Generated
}

// next returns the key's next planned transition after now and the state it leads to, or a
// zero time when none is planned. Several instants may coincide (a ZSK's Ready and Active, a
// KSK's Retire and Remove): the state reached then is the one State derives.
func (k Key) next(now time.Time) (time.Time, State) {
	var at time.Time
	for _, t := range []time.Time{k.Publish, k.Ready, k.Active, k.Retire, k.Remove} {
		if t.After(now) && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	if at.IsZero() {
		return at, 0
	}
	return at, k.State(at)
}

// gone reports whether the key has left the DNSKEY RRset and makes no signature any more, for
// good: it may be deleted.
func (k Key) gone(now time.Time) bool {
	return reached(k.Remove, now) && (k.Retire.IsZero() || reached(k.Retire, now))
}

// InDNSKEY reports whether the key is in the zone's DNSKEY RRset at now.
func (k Key) InDNSKEY(now time.Time) bool { return within(k.Publish, k.Remove, now) }

// Signs reports whether the key makes signatures at now. A ZSK signs the zone's data from
// Active to Retire. A KSK signs the DNSKEY, CDS and CDNSKEY RRsets whenever it is published:
// the double-KSK method (RFC 6781 §4.1.2, RFC 7583 §3.3.2) signs the DNSKEY RRset with old and
// new KSK together, so that either DS at the parent validates it. The old KSK of an algorithm
// rollover goes on signing after it left the DNSKEY RRset, until its Retire (RFC 6781 §4.1.4).
func (k Key) Signs(now time.Time) bool {
	if k.Role == keystore.KSK {
		end := k.Remove
		if k.Retire.After(end) && !end.IsZero() {
			end = k.Retire
		}
		return within(k.Publish, end, now)
	}
	return within(k.Active, k.Retire, now)
}

// InCDS reports whether CDS and CDNSKEY records for the key are published at now (RFC 7344):
// from CDSPublish until CDSRemove, and never once the key is active. A KSK's CDS asks the
// parent to move its DS to the key, which is over when the key becomes the trust anchor; a
// key that was once a rollover's new KSK keeps its CDSPublish, and its CDS must not come back
// when a later rollover replaces it (the parent would put its DS back beside the successor's,
// calling that rollover's swap off for good).
func (k Key) InCDS(now time.Time) bool {
	return within(k.CDSPublish, k.CDSRemove, now) && !reached(k.Active, now)
}

// CDSKeys returns the IDs of the keys the zone's CDS and CDNSKEY RRsets name at now, in the
// order of keys: what a parent that follows CDS (RFC 7344 §4.1) would put in its DS RRset.
func CDSKeys(keys []Key, now time.Time) []string {
	var out []string
	for _, k := range keys {
		if k.InCDS(now) {
			out = append(out, k.ID)
		}
	}
	return out
}

// timestamps lists every planned instant of the key, for computing the next wake-up.
func (k Key) timestamps() []time.Time {
	return []time.Time{k.Publish, k.Ready, k.Active, k.Retire, k.Remove, k.CDSPublish, k.CDSRemove}
}
