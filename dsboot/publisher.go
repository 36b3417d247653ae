package dsboot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// DefaultInterval is how often a Publisher looks for a change of the zones or key rings.
const DefaultInterval = 100 * time.Millisecond

// Config describes a Publisher.
type Config struct {
	Zones Zones
	Keys  Keys
	// Apply publishes rrs as origin's signalling records, replacing the ones published before
	// (nil: none). The server's ZoneSet.SetExtra does it: it rebuilds the zone's snapshot with
	// them and swaps it in atomically.
	Apply func(origin string, rrs []dns.RR) error
	// Interval is how often Run compares the zones' and the rings' generations; a change
	// recomputes the signals. Default DefaultInterval. Both generations are atomic counters,
	// so a look costs two loads.
	Interval time.Duration
	Logger   *slog.Logger
}

// Publisher keeps the signalling records in step with the children's CDS/CDNSKEY RRsets: a
// KSK rollover or a disable (the delete sentinels) changes them, a new child or a changed NS
// RRset adds or removes signals, and a signalling zone's reload keeps them (Apply is
// remembered by the zone set). It is safe for concurrent use.
type Publisher struct {
	cfg Config

	mu         sync.Mutex
	zgen, kgen uint64
	synced     bool
	applied    map[string]string // origin -> fingerprint of the records applied
	gaps       string            // the gaps last logged

	// What the last sync found, for the metrics: the signals published (those whose Apply
	// failed left out) and the gaps.
	signals []Signal
	gapList []Gap
}

// NewPublisher returns a Publisher; call Sync once, then Run.
func NewPublisher(cfg Config) (*Publisher, error) {
	if cfg.Zones == nil || cfg.Keys == nil || cfg.Apply == nil {
		return nil, errors.New("dsboot: a publisher needs Zones, Keys and Apply")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Publisher{cfg: cfg, applied: map[string]string{}}, nil
}

// Sync computes the signals of the zones and rings served now and publishes what changed.
// Zones that held signals and hold none now get Apply(origin, nil). An Apply that fails is
// logged and returned, and tried again at the next change.
func (p *Publisher) Sync() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sync()
}

func (p *Publisher) sync() error {
	// The generations are read before the zones and rings: a change that lands during the
	// computation moves them again, and the next look computes once more.
	p.zgen, p.kgen, p.synced = p.cfg.Zones.Generation(), p.cfg.Keys.Generation(), true
	plan := Compute(p.cfg.Zones, p.cfg.Keys)
	var errs []error
	origins := make([]string, 0, len(plan.Records))
	for origin := range plan.Records {
		origins = append(origins, origin)
	}
	slices.Sort(origins)
	live := map[string]bool{} // zones serving this plan's signals
	for _, origin := range origins {
		rrs := plan.Records[origin]
		fp := fingerprint(rrs)
		if have, ok := p.applied[origin]; ok && have == fp {
			live[origin] = true
			continue
		}
		if err := p.cfg.Apply(origin, rrs); err != nil {
			p.cfg.Logger.Error("DS bootstrapping: cannot publish the signalling records", "zone", origin, "err", err)
			errs = append(errs, fmt.Errorf("zone %s: %w", origin, err))
			// The signals the zone still serves copy CDS that have changed since: withdraw
			// them rather than vouch for records the child no longer publishes.
			if _, ok := p.applied[origin]; ok && p.cfg.Apply(origin, nil) == nil {
				delete(p.applied, origin)
			}
			continue
		}
		p.applied[origin] = fp
		live[origin] = true
		p.cfg.Logger.Info("DS bootstrapping: signalling records published (RFC 9615)", "zone", origin,
			"names", signalNames(plan.Signals, origin), "records", len(rrs))
	}
	for origin := range p.applied {
		if _, ok := plan.Records[origin]; ok {
			continue
		}
		if err := p.cfg.Apply(origin, nil); err != nil {
			p.cfg.Logger.Error("DS bootstrapping: cannot withdraw the signalling records", "zone", origin, "err", err)
			errs = append(errs, fmt.Errorf("zone %s: %w", origin, err))
			continue
		}
		delete(p.applied, origin)
		p.cfg.Logger.Info("DS bootstrapping: signalling records withdrawn", "zone", origin)
	}
	p.logGaps(plan.Gaps)
	// New slices: a scrape may still be reading the old ones.
	p.signals = nil
	for _, sig := range plan.Signals {
		if live[sig.Zone] {
			p.signals = append(p.signals, sig)
		}
	}
	p.gapList = plan.Gaps
	return errors.Join(errs...)
}

// logGaps logs the gaps when they differ from the last ones logged, so that a steady state
// logs once.
func (p *Publisher) logGaps(gaps []Gap) {
	lines := make([]string, len(gaps))
	for i, g := range gaps {
		lines[i] = g.String()
	}
	all := strings.Join(lines, "; ")
	if all == p.gaps {
		return
	}
	p.gaps = all
	for _, g := range gaps {
		p.cfg.Logger.Warn("DS bootstrapping: no signal published under a name server (RFC 9615)",
			"zone", g.Child, "nameserver", g.Host, "reason", g.Reason)
	}
}

func signalNames(signals []Signal, origin string) []string {
	var out []string
	for _, s := range signals {
		if s.Zone == origin {
			out = append(out, s.Name)
		}
	}
	return out
}

// Run looks for changes every Interval until ctx ends, and syncs when the zones or the rings
// changed since the last sync.
func (p *Publisher) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.Poll()
		}
	}
}

// Poll syncs if the zones or the rings changed since the last sync; it reports whether it did.
func (p *Publisher) Poll() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.synced && p.zgen == p.cfg.Zones.Generation() && p.kgen == p.cfg.Keys.Generation() {
		return false
	}
	p.sync() // errors are logged; they are tried again at the next change
	return true
}
