package rollover

import "time"

// Postpone returns keys with every planned instant after from moved d later: the instants at
// which a key enters or leaves the DNSKEY RRset, becomes ready or active, retires, or has its
// CDS/CDNSKEY published or withdrawn. Observed instants (creation, the parent's DS seen or
// gone, a check, an operator's confirmation, a failure) stay. A key manager whose change is
// served by several name servers uses it to count the intervals of RFC 7583 from the moment
// the last server serves the change (Dprp measured, not assumed) instead of from the change
// itself. keys is not modified.
func Postpone(keys []Key, from time.Time, d time.Duration) []Key {
	out := make([]Key, len(keys))
	copy(out, keys)
	if d <= 0 {
		return out
	}
	for i := range out {
		k := &out[i]
		for _, t := range []*time.Time{&k.Publish, &k.Ready, &k.Active, &k.Retire, &k.Remove, &k.CDSPublish, &k.CDSRemove} {
			if t.After(from) {
				*t = t.Add(d)
			}
		}
	}
	return out
}
