package rollovertest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

// Snapshot is what could be fetched at one instant, and went on being served until the next
// Snapshot: the zone's DNSKEY RRset and the keys whose RRSIGs cover it, the keys signing the
// zone's other RRsets, and the parent's DS RRset. Keys are named by ID.
type Snapshot struct {
	At time.Time
	// Up is false while the zone's servers are down: nothing of the zone can be fetched (the
	// parent still answers).
	Up            bool
	DNSKEY        []string
	DNSKEYSigners []string
	DataSigners   []string
	DS            []string
	// Algorithms gives each key's DNSSEC algorithm, for the check that every algorithm in a
	// DNSKEY RRset signs the data (RFC 4035 §2.2). Keys it does not name count as one
	// algorithm.
	Algorithms map[string]uint8
}

// FromKeys returns the snapshot a zone with keys serves at now (DNSKEY RRset = the published
// keys, signed by the KSKs that sign; data signed by the ZSKs that sign), with the parent's DS
// RRset ds.
func FromKeys(keys []rollover.Key, ds []string, up bool, now time.Time) Snapshot {
	s := Snapshot{At: now, Up: up, DS: slices.Clone(ds), Algorithms: map[string]uint8{}}
	for _, k := range keys {
		s.Algorithms[k.ID] = k.Algorithm
		if k.InDNSKEY(now) {
			s.DNSKEY = append(s.DNSKEY, k.ID)
		}
		if !k.Signs(now) {
			continue
		}
		if k.Role == keystore.KSK {
			s.DNSKEYSigners = append(s.DNSKEYSigners, k.ID)
		} else {
			s.DataSigners = append(s.DataSigners, k.ID)
		}
	}
	for _, l := range [][]string{s.DNSKEY, s.DNSKEYSigners, s.DataSigners, s.DS} {
		slices.Sort(l)
	}
	return s
}

func (s Snapshot) sameContent(o Snapshot) bool {
	return s.Up == o.Up && slices.Equal(s.DNSKEY, o.DNSKEY) && slices.Equal(s.DNSKEYSigners, o.DNSKEYSigners) &&
		slices.Equal(s.DataSigners, o.DataSigners) && slices.Equal(s.DS, o.DS)
}

// Violation is one breach of an RFC 7583 condition: a combination of cached data a resolver may
// hold at At that does not validate.
type Violation struct {
	At   time.Time
	What string
}

func (v Violation) String() string { return v.At.UTC().Format(time.RFC3339) + ": " + v.What }

// Checker models what a validating resolver may hold in its cache and reports every moment at
// which two things it may hold together do not validate. Its TTLs are the real ones (what the
// zone and the parent serve), independent of the Policy a planner was given, so a planner that
// waits too little is caught.
//
// A resolver may hold, at time t, any RRset it could have fetched in the last TTL: a snapshot
// served over [At, next.At) is held until next.At + TTL (exclusive). The conditions, checked
// at every Observe over all such combinations (RFC 7583 §2, RFC 4035 §5):
//
//   - every RRSIG over zone data it may hold was made by a key in every DNSKEY RRset it may hold;
//
//   - every DNSKEY RRset it may hold is signed by a KSK in that RRset whose DS is in every
//     non-empty DS RRset it may hold (an empty DS RRset is an insecure delegation).
//
//   - every algorithm of every DNSKEY RRset it may hold signs every RRset it may hold, the data
//     and the DNSKEY RRset itself (RFC 4035 §2.2; RFC 6781 §4.1.4 orders an algorithm rollover
//     so that a validator that insists on it never fails).
//
// RRSIGs and the DNSKEY RRset they cover are fetched together, so the check pairs them.
type Checker struct {
	DNSKEYTTL  time.Duration
	MaxZoneTTL time.Duration
	DSTTL      time.Duration

	hist     []Snapshot
	seen     map[string]bool
	found    []Violation
	count    int
	observed int
}

// MaxKept is how many violations a Checker keeps for its report; it counts them all.
const MaxKept = 50

// New returns a Checker for the zone's DNSKEY TTL, its largest RRSIG TTL, and the parent's DS TTL.
func New(dnskeyTTL, maxZoneTTL, dsTTL time.Duration) *Checker {
	return &Checker{DNSKEYTTL: dnskeyTTL, MaxZoneTTL: maxZoneTTL, DSTTL: dsTTL, seen: map[string]bool{}}
}

// Observe records that s is served from s.At on and checks the conditions at s.At. Snapshots
// must come in time order.
func (c *Checker) Observe(s Snapshot) {
	c.observed++
	if n := len(c.hist); n > 0 {
		if s.At.Before(c.hist[n-1].At) {
			panic(fmt.Sprintf("rollovertest: snapshot at %v before %v", s.At, c.hist[n-1].At))
		}
		if !s.sameContent(c.hist[n-1]) {
			c.hist = append(c.hist, s)
		}
	} else {
		c.hist = append(c.hist, s)
	}
	c.prune(s.At)
	c.check(s.At)
}

// held returns the indexes of snapshots whose content a resolver may still hold at t, for a
// TTL: those served at some instant after t - ttl. The last snapshot is served until t.
func (c *Checker) held(t time.Time, ttl time.Duration, zone bool) []int {
	var out []int
	for i, s := range c.hist {
		if zone && !s.Up {
			continue
		}
		end := t.Add(time.Nanosecond) // the current snapshot is served at t itself
		if i+1 < len(c.hist) {
			end = c.hist[i+1].At
		}
		if end.After(t.Add(-ttl)) {
			out = append(out, i)
		}
	}
	return out
}

func (c *Checker) prune(t time.Time) {
	maxTTL := max(c.DNSKEYTTL, c.MaxZoneTTL, c.DSTTL)
	drop := 0
	for drop+1 < len(c.hist) && !c.hist[drop+1].At.After(t.Add(-maxTTL)) {
		drop++
	}
	c.hist = c.hist[drop:]
}

func (c *Checker) check(t time.Time) {
	keysets := c.held(t, c.DNSKEYTTL, true)
	for _, i := range c.held(t, c.MaxZoneTTL, true) {
		sig := c.hist[i]
		if len(sig.DataSigners) == 0 {
			continue // unsigned data: the zone was not signed then
		}
		for _, j := range keysets {
			if !intersects(sig.DataSigners, c.hist[j].DNSKEY) {
				c.report(t, "rrsig", i, j, fmt.Sprintf("data RRSIG by [%s] (served %s) has no key in DNSKEY RRset [%s] (served %s)",
					strings.Join(sig.DataSigners, " "), stamp(sig.At), strings.Join(c.hist[j].DNSKEY, " "), stamp(c.hist[j].At)))
			}
			if a, ok := missingAlgorithm(c.hist[j], c.hist[j].DNSKEY, sig, sig.DataSigners); !ok {
				c.report(t, "alg", i, j, fmt.Sprintf("data signed by [%s] (served %s) has no signature of algorithm %d, which DNSKEY RRset [%s] (served %s) lists",
					strings.Join(sig.DataSigners, " "), stamp(sig.At), a, strings.Join(c.hist[j].DNSKEY, " "), stamp(c.hist[j].At)))
			}
		}
	}
	for _, j := range keysets {
		ks := c.hist[j]
		if a, ok := missingAlgorithm(ks, ks.DNSKEY, ks, ks.DNSKEYSigners); !ok && len(ks.DNSKEYSigners) > 0 {
			c.report(t, "algkey", j, j, fmt.Sprintf("DNSKEY RRset [%s] (served %s) has no signature of its algorithm %d",
				strings.Join(ks.DNSKEY, " "), stamp(ks.At), a))
		}
	}
	for _, i := range c.held(t, c.DSTTL, false) {
		ds := c.hist[i]
		if len(ds.DS) == 0 {
			continue
		}
		for _, j := range keysets {
			ks := c.hist[j]
			if !intersects3(ds.DS, ks.DNSKEYSigners, ks.DNSKEY) {
				c.report(t, "ds", i, j, fmt.Sprintf("DS RRset [%s] (served %s) matches no KSK signing DNSKEY RRset [%s] signed by [%s] (served %s)",
					strings.Join(ds.DS, " "), stamp(ds.At), strings.Join(ks.DNSKEY, " "), strings.Join(ks.DNSKEYSigners, " "), stamp(ks.At)))
			}
		}
	}
}

func (c *Checker) report(t time.Time, kind string, i, j int, what string) {
	id := kind + c.hist[i].At.String() + "|" + c.hist[j].At.String()
	if c.seen[id] {
		return
	}
	c.seen[id] = true
	c.count++
	if len(c.found) < MaxKept {
		c.found = append(c.found, Violation{At: t, What: what})
	}
}

// Violations returns the first MaxKept violations found, in the order found.
func (c *Checker) Violations() []Violation { return slices.Clone(c.found) }

// Count returns how many distinct violations were found in all.
func (c *Checker) Count() int { return c.count }

// Observed returns how many snapshots Observe was given.
func (c *Checker) Observed() int { return c.observed }

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// missingAlgorithm returns an algorithm of the keys listed (algorithms from ks) that none of
// the signers (algorithms from ss) has, and false; or true when every one is there.
func missingAlgorithm(ks Snapshot, listed []string, ss Snapshot, signers []string) (uint8, bool) {
	for _, k := range listed {
		a := ks.Algorithms[k]
		if !slices.ContainsFunc(signers, func(s string) bool { return ss.Algorithms[s] == a }) {
			return a, false
		}
	}
	return 0, true
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

func intersects3(a, b, c []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) && slices.Contains(c, x) {
			return true
		}
	}
	return false
}
