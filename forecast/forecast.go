package forecast

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

// DefaultParentDelay is how long the modelled parent takes to replace its DS RRset after the
// zone's CDS RRset changes. Registries that scan CDS do so about daily.
const DefaultParentDelay = 24 * time.Hour

// maxSteps bounds the simulation: a policy that makes the planner spin (or a planner bug)
// ends the projection early with a finding instead of hanging the caller.
const maxSteps = 20000

// maxNewKeys bounds the keys a projection creates: a lane each in the picture and a few rows
// each in the table. A policy with lifetimes of seconds (a lab's) reaches it quickly; the
// projection then ends early and says so.
const maxNewKeys = 100

// newPrefix starts the IDs of the keys the projection creates.
const newPrefix = "forecast-"

// Options says what to project.
type Options struct {
	// From is the start (the server's now); Horizon how far to look (default 400 days).
	From    time.Time
	Horizon time.Duration
	// ParentDelay is the modelled parent's reaction time to a CDS change; default
	// DefaultParentDelay.
	ParentDelay time.Duration
	// NoParents says the zone has no parent servers to query for its DS, so an automatic
	// KSK rollover waits for an operator.
	NoParents bool
	// Validity and Refresh are the signer's signature validity and re-signing margin, for
	// the checks; zero skips those checks.
	Validity, Refresh time.Duration
}

// Event is one transition of one key, or of the parent's DS RRset.
type Event struct {
	At time.Time `json:"At"`
	// Role is "KSK", "ZSK" or "DS" (the parent).
	Role string `json:"Role"`
	// Key is the key's label: its tag for an existing key, "new ZSK #n" for one the
	// projection creates.
	Key string `json:"Key"`
	// What is published, ready, active, retired, removed, cds-published, cds-withdrawn, or
	// for the parent ds-changed.
	What string `json:"What"`
	// Detail says more (the DS RRset's keys, why an action happens).
	Detail string `json:"Detail,omitempty"`
}

// Span is an interval of a lane in one state; a zero Until runs past the horizon.
type Span struct {
	State string    `json:"State"`
	From  time.Time `json:"From"`
	Until time.Time `json:"Until,omitzero"`
}

// Lane is one key's life over the projection, or the parent's DS RRset.
type Lane struct {
	Key  string `json:"Key"`
	Role string `json:"Role"`
	// New marks a key the projection creates (it does not exist yet).
	New   bool   `json:"New,omitempty"`
	Spans []Span `json:"Spans"`
	// CDS are the windows in which CDS/CDNSKEY for the key are published.
	CDS []Span `json:"CDS,omitempty"`
}

// Forecast is the projection of one zone.
type Forecast struct {
	Zone  string    `json:"Zone"`
	From  time.Time `json:"From"`
	Until time.Time `json:"Until"`
	// Policy is the rollover policy the projection used, every default filled in.
	Policy   Policy    `json:"Policy"`
	Events   []Event   `json:"Events"`
	Lanes    []Lane    `json:"Lanes"`
	Findings []Finding `json:"Findings"`
}

// Policy is rollover.Policy in a form that reads well as JSON (durations as text) and the
// RFC 7583 intervals derived from it.
type Policy struct {
	ZSKLifetime       string `json:"ZSKLifetime"`
	KSKRollover       string `json:"KSKRollover"`
	KSKLifetime       string `json:"KSKLifetime"`
	PropagationDelay  string `json:"PropagationDelay"`
	DNSKEYTTL         string `json:"DNSKEYTTL"`
	MaxZoneTTL        string `json:"MaxZoneTTL"`
	ParentDSTTL       string `json:"ParentDSTTL"`
	ParentPropagation string `json:"ParentPropagation"`
	PublishInterval   string `json:"PublishInterval"`
	RetireInterval    string `json:"RetireInterval"`
	DSSwapInterval    string `json:"DSSwapInterval"`
	ParentDelay       string `json:"ParentDelay"`
}

func policyView(p rollover.Policy, parentDelay time.Duration) Policy {
	mode := "manual"
	if p.KSKAutomatic {
		mode = "automatic"
	}
	zl := Duration(p.ZSKLifetime)
	if p.ZSKLifetime < 0 {
		zl = "never"
	}
	return Policy{
		ZSKLifetime: zl, KSKRollover: mode, KSKLifetime: Duration(p.KSKLifetime),
		PropagationDelay: Duration(p.PropagationDelay), DNSKEYTTL: Duration(p.DNSKEYTTL),
		MaxZoneTTL: Duration(p.MaxZoneTTL), ParentDSTTL: Duration(p.ParentDSTTL),
		ParentPropagation: Duration(p.ParentPropagation), PublishInterval: Duration(p.PublishInterval()),
		RetireInterval: Duration(p.RetireInterval()), DSSwapInterval: Duration(p.DSSwapInterval()),
		ParentDelay: Duration(parentDelay),
	}
}

// Project runs the planner forward over opt.Horizon from opt.From, starting from keys (the
// zone's timelines as the key manager holds them) under policy p, and returns every
// transition, the lanes to draw, and the policy findings (Check) plus any trouble the
// projection itself ran into (a KSK that would wait for its DS until ACTION_NEEDED).
func Project(zone string, keys []rollover.Key, p rollover.Policy, opt Options) Forecast {
	p = p.WithDefaults()
	if opt.Horizon <= 0 {
		opt.Horizon = 400 * 24 * time.Hour
	}
	if opt.ParentDelay <= 0 {
		opt.ParentDelay = DefaultParentDelay
	}
	s := newSim(keys, p, opt)
	s.run()
	f := Forecast{Zone: zone, From: opt.From, Until: s.until, Policy: policyView(p, opt.ParentDelay)}
	f.Findings = append(Check(p, opt), s.findings...)
	if p.KSKAutomatic && opt.NoParents {
		f.Findings = append(f.Findings, Finding{Severity: Warning, Interval: "parents",
			Message: "no parent name servers are configured (zones[].parents): Signet cannot see the DS change, so each KSK rollover waits for `signet ksk ds-seen` (this plan assumes it comes when the parent changes)"})
	}
	f.Lanes, f.Events = s.lanes()
	return f
}

// sim is the key manager's part against a modelled parent.
type sim struct {
	p           rollover.Policy
	start       time.Time
	now, until  time.Time
	keys        []rollover.Key
	seen        map[string]rollover.Key // every key ever, in its latest version
	order       []string
	label       map[string]string
	created     map[keystore.Role]int
	parentDelay time.Duration
	// The parent's DS RRset (KSK IDs), its pending change, and the CDS RRset it last acted on.
	ds        []string
	initialDS []string
	dsEvents  []Event
	pending   []string
	pendAt    time.Time
	lastCDS   []string
	findings  []Finding
	flagged   map[string]bool
}

func newSim(keys []rollover.Key, p rollover.Policy, opt Options) *sim {
	s := &sim{p: p, start: opt.From, now: opt.From, until: opt.From.Add(opt.Horizon), keys: slices.Clone(keys),
		seen: map[string]rollover.Key{}, label: map[string]string{}, created: map[keystore.Role]int{},
		parentDelay: opt.ParentDelay, flagged: map[string]bool{}}
	for _, k := range keys {
		s.note(k)
		s.label[k.ID] = fmt.Sprintf("%d", k.Tag)
		// The parent is taken to publish the DS of every KSK that is the zone's trust
		// anchor now (active), and of a new KSK already seen there.
		if k.Role == keystore.KSK && (k.State(opt.From) == rollover.Active || !k.DSSeen.IsZero()) && k.InDNSKEY(opt.From) {
			s.ds = append(s.ds, k.ID)
		}
	}
	s.initialDS = slices.Clone(s.ds)
	s.lastCDS = s.cds()
	return s
}

func (s *sim) note(k rollover.Key) {
	if _, ok := s.seen[k.ID]; !ok {
		s.order = append(s.order, k.ID)
	}
	s.seen[k.ID] = k
}

func (s *sim) cds() []string { return rollover.CDSKeys(s.keys, s.now) }

// run steps from wake-up to wake-up (the planner's next time, or the parent's pending
// change), carrying out every action due, until the horizon.
func (s *sim) run() {
	for range maxSteps {
		s.parent()
		next := s.step()
		if n := s.created[keystore.KSK] + s.created[keystore.ZSK]; n >= maxNewKeys {
			s.findings = append(s.findings, Finding{Severity: Warning, Interval: "horizon",
				Message: fmt.Sprintf("the plan stops at %s, after %d new keys: ask for a shorter period (--for)", stamp(s.now), n)})
			s.until = s.now
			return
		}
		if !s.pendAt.IsZero() && (next.IsZero() || s.pendAt.Before(next)) {
			next = s.pendAt
		}
		if next.IsZero() || next.After(s.until) {
			return
		}
		s.now = next
	}
	s.findings = append(s.findings, Finding{Severity: Error, Interval: "planner",
		Message: fmt.Sprintf("the projection stopped at %s after %d steps: the planner does not settle", stamp(s.now), maxSteps)})
}

// parent applies a DS change that has come due and notices a new CDS RRset.
func (s *sim) parent() {
	if !s.pendAt.IsZero() && !s.now.Before(s.pendAt) {
		s.ds, s.pendAt = s.pending, time.Time{}
		s.dsEvents = append(s.dsEvents, Event{At: s.now, Role: "DS", Key: "parent", What: "ds-changed", Detail: s.dsText(s.ds)})
	}
	cds := s.cds()
	if len(cds) > 0 && !slices.Equal(cds, s.lastCDS) {
		s.pending, s.pendAt = cds, s.now.Add(s.parentDelay)
	}
	s.lastCDS = cds
}

func (s *sim) dsText(ids []string) string {
	if len(ids) == 0 {
		return "no DS"
	}
	var out string
	for i, id := range ids {
		if i > 0 {
			out += ", "
		}
		out += "KSK " + s.label[id]
	}
	return out
}

// step plans and carries out what is due at now; it returns the planner's next time.
func (s *sim) step() time.Time {
	for range 20 {
		actions, next, st := rollover.Plan(s.keys, s.p, s.now)
		for _, ks := range st.Keys {
			if ks.NeedsAction && !s.flagged[ks.ID] {
				s.flagged[ks.ID] = true
				s.findings = append(s.findings, Finding{Severity: Warning, Interval: "ds-wait-limit",
					Message: fmt.Sprintf("%s %s would be ACTION_NEEDED from %s: %s", ks.Role, s.label[ks.ID], stamp(ks.NeedsActionSince), ks.Note)})
			}
		}
		if len(actions) == 0 {
			return next
		}
		for _, a := range actions {
			s.do(a)
		}
	}
	return s.now.Add(time.Second) // the planner keeps asking: move on rather than spin
}

func (s *sim) do(a rollover.Action) {
	var created rollover.Key
	switch a.Kind {
	case rollover.CreateZSK, rollover.CreateKSK:
		s.created[a.Role]++
		n := s.created[a.Role]
		created = rollover.Key{ID: fmt.Sprintf("%s%s-%d", newPrefix, a.Role, n), Role: a.Role, Algorithm: a.Algorithm}
		if created.Algorithm == 0 {
			created.Algorithm = keystore.ECDSAP256SHA256
		}
		s.label[created.ID] = fmt.Sprintf("new %s #%d", a.Role, n)
	case rollover.CheckParentDS:
		var checks []rollover.DSCheck
		for _, k := range s.keys {
			if k.Role == keystore.KSK {
				pr := rollover.DSAtNone
				if slices.Contains(s.ds, k.ID) {
					pr = rollover.DSAtAll
				}
				checks = append(checks, rollover.DSCheck{KeyID: k.ID, Presence: pr})
			}
		}
		s.keys = rollover.RecordDS(s.keys, checks, s.now)
	}
	keys, err := rollover.Apply(s.keys, a, created, s.p, s.now)
	if err != nil {
		s.findings = append(s.findings, Finding{Severity: Error, Interval: "planner",
			Message: fmt.Sprintf("%s: the planner's %v could not be applied: %v", stamp(s.now), a.Kind, err)})
		return
	}
	for _, k := range keys {
		s.note(k)
	}
	s.keys = keys
}

// lanes turns every key's final timeline into lanes and events within [from, until].
func (s *sim) lanes() ([]Lane, []Event) {
	var lanes []Lane
	var events []Event
	ids := slices.Clone(s.order)
	sort.SliceStable(ids, func(i, j int) bool {
		a, b := s.seen[ids[i]], s.seen[ids[j]]
		if a.Role != b.Role {
			return a.Role == keystore.KSK
		}
		return a.Publish.Before(b.Publish)
	})
	for _, id := range ids {
		k := s.seen[id]
		l := Lane{Key: s.label[id], Role: k.Role.String(), New: strings.HasPrefix(id, newPrefix)}
		marks := []struct {
			at    time.Time
			state string
		}{{k.Publish, "published"}, {k.Ready, "ready"}, {k.Active, "active"}, {k.Retire, "retired"}, {k.Remove, "removed"}}
		for i, m := range marks {
			if m.at.IsZero() {
				continue
			}
			if m.state != "removed" {
				// A state lasts until the next instant that is set; one that coincides
				// with it (a ZSK's Ready and Active, a KSK's Retire and Remove) is skipped.
				until := time.Time{}
				for _, n := range marks[i+1:] {
					if !n.at.IsZero() {
						until = n.at
						break
					}
				}
				if until.IsZero() || until.After(m.at) {
					l.Spans = append(l.Spans, Span{State: m.state, From: m.at, Until: until})
				}
			}
			// Of instants that coincide only the state reached is an event.
			coincides := false
			for _, n := range marks[i+1:] {
				if !n.at.IsZero() {
					coincides = n.at.Equal(m.at)
					break
				}
			}
			if !coincides && !m.at.Before(s.start) && !m.at.After(s.until) {
				events = append(events, Event{At: m.at, Role: l.Role, Key: l.Key, What: m.state})
			}
		}
		if !k.CDSPublish.IsZero() {
			l.CDS = append(l.CDS, Span{State: "cds", From: k.CDSPublish, Until: k.CDSRemove})
			if !k.CDSPublish.Before(s.start) && !k.CDSPublish.After(s.until) {
				events = append(events, Event{At: k.CDSPublish, Role: l.Role, Key: l.Key, What: "cds-published"})
			}
			if !k.CDSRemove.IsZero() && !k.CDSRemove.Before(s.start) && !k.CDSRemove.After(s.until) {
				events = append(events, Event{At: k.CDSRemove, Role: l.Role, Key: l.Key, What: "cds-withdrawn"})
			}
		}
		lanes = append(lanes, l)
	}
	lanes = append(lanes, s.dsLane())
	events = append(events, s.dsEvents...)
	sort.SliceStable(events, func(i, j int) bool { return events[i].At.Before(events[j].At) })
	return lanes, events
}

// dsLane is the parent's DS RRset over time: one span per content.
func (s *sim) dsLane() Lane {
	l := Lane{Key: "parent DS", Role: "DS"}
	cur, since := s.dsText(s.initialDS), s.start
	for _, e := range s.dsEvents {
		l.Spans = append(l.Spans, Span{State: cur, From: since, Until: e.At})
		cur, since = e.Detail, e.At
	}
	l.Spans = append(l.Spans, Span{State: cur, From: since})
	return l
}

// stamp formats an instant for messages.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
