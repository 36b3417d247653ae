package server

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/zones"
)

// ZoneFile names a zone and the master file it is loaded from.
type ZoneFile struct {
	Origin string // fully qualified, e.g. "example.test."
	Path   string
}

// ZoneLoader builds a zone's snapshot. The ZoneSet calls it when the zone is added and on every
// reload; opt carries the TTL cap of signed zones. A ZoneFile reads its file; the xfr package's
// secondaries build from their transferred copy.
type ZoneLoader interface {
	LoadZone(opt zones.Options) (*zones.Zone, error)
}

// LoadZone implements ZoneLoader.
func (f ZoneFile) LoadZone(opt zones.Options) (*zones.Zone, error) {
	return zones.Load(f.Origin, f.Path, opt)
}

// zoneEntry is one configured zone: where it comes from, for logs, and how to build it.
type zoneEntry struct {
	origin string
	from   string
	loader ZoneLoader
}

// ZoneSet loads the configured zones (files, or other ZoneLoaders) into a zones.Store and
// reloads them. A zone that fails to load on reload keeps serving as it was.
type ZoneSet struct {
	store  *zones.Store
	log    *slog.Logger
	signed func(origin string) bool
	strict bool

	mu    sync.Mutex // serialises reloads
	zones []zoneEntry
	loads map[string]*loadState // by origin, under mu
	now   func() time.Time

	// base is each zone as its loader built it, extra the records the server adds to it
	// (SetExtra); the store serves base.With(extra). Both by origin, under mu.
	base  map[string]*zones.Zone
	extra map[string][]dns.RR
	// minSerial is the SOA serial each zone is raised to (SetMinSerial), by origin, under mu.
	minSerial map[string]uint32
	// held is why each zone withheld (Hold) is, by origin, under mu.
	held map[string]error
}

// loadState is one zone's load history, for the metrics.
type loadState struct {
	ok, failed  uint64
	serial      uint32
	lastOK      time.Time
	lastFailure time.Time
	failing     bool  // the last load failed: an older version (or nothing) is served
	err         error // the last load's error, nil after a good one
}

// noteLoad records a load of origin; call with s.mu held.
func (s *ZoneSet) noteLoad(origin string, z *zones.Zone, err error) {
	st := s.loads[origin]
	if st == nil {
		st = &loadState{}
		s.loads[origin] = st
	}
	now := s.now()
	st.err = err
	if err != nil {
		st.failed++
		st.lastFailure, st.failing = now, true
		return
	}
	st.ok++
	st.lastOK, st.failing = now, false
	if z.Available() {
		st.serial = z.Serial()
	}
}

// Match implements ZoneSource.
func (s *ZoneSet) Match(qname string) *zones.Zone { return s.store.Match(qname) }

// Generation implements ZoneSource: it changes whenever a zone is added or replaced.
func (s *ZoneSet) Generation() uint64 { return s.store.Generation() }

// NewZoneSet returns an empty set. signed reports whether a zone is signed, which caps its TTLs
// at zones.MaxSignedTTL when loaded; nil means no zone is.
func NewZoneSet(log *slog.Logger, signed func(origin string) bool) *ZoneSet {
	if signed == nil {
		signed = func(string) bool { return false }
	}
	if log == nil {
		log = slog.Default()
	}
	return &ZoneSet{store: zones.NewStore(), log: log, signed: signed, loads: map[string]*loadState{}, now: time.Now, strict: true,
		base: map[string]*zones.Zone{}, extra: map[string][]dns.RR{}, held: map[string]error{}}
}

// SetStrict chooses what Add does with a zone that fails to load: fail (true, the default), or
// serve the zone as SERVFAIL, log the error and go on (false), so that one broken zone file
// does not keep every other zone from being served. Call it before adding zones.
func (s *ZoneSet) SetStrict(strict bool) { s.strict = strict }

// failedReason is what clients are told about a zone whose data failed to load (RFC 8914
// EXTRA-TEXT); the file and line go to the logs and Status only.
const failedReason = "zone failed to load"

// Store is the set's zone store, for the Handler.
func (s *ZoneSet) Store() *zones.Store { return s.store }

// Add loads a zone file and starts serving it. The error names the file and line.
func (s *ZoneSet) Add(f ZoneFile) error { return s.AddLoader(f.Origin, f.Path, f) }

// AddAll loads zone files like Add and starts serving them together: adding thousands of zones
// one by one would copy the zone map once per zone. It stops at the first error Add would
// return; the zones loaded before it are not served then.
func (s *ZoneSet) AddAll(files []ZoneFile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	have := make(map[string]string, len(s.zones)+len(files))
	for _, e := range s.zones {
		have[e.origin] = e.from
	}
	// The files load on every CPU at once (ten thousand small zones took a restart's longest
	// serial stretch one by one); they are then added in order, as one at a time would.
	entries := make([]zoneEntry, len(files))
	loaded := make([]*zones.Zone, len(files))
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for i := range next {
				loaded[i], errs[i] = s.load(entries[i])
			}
		})
	}
	for i, f := range files {
		entries[i] = zoneEntry{origin: f.Origin, from: f.Path, loader: f}
		next <- i
	}
	close(next)
	wg.Wait()
	out := make([]*zones.Zone, 0, len(files))
	for i, e := range entries {
		z, err := s.added(e, loaded[i], errs[i], have)
		if err != nil {
			return err
		}
		out = append(out, z)
	}
	s.store.SetAll(out...)
	return nil
}

// AddLoader starts serving the zone origin as l builds it; from says where it comes from (a
// file name, "AXFR from ...") in logs.
func (s *ZoneSet) AddLoader(origin, from string, l ZoneLoader) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	have := make(map[string]string, len(s.zones))
	for _, e := range s.zones {
		have[e.origin] = e.from
	}
	z, err := s.addLocked(origin, from, l, have)
	if err != nil {
		return err
	}
	s.store.Set(z)
	return nil
}

// addLocked loads a new zone and returns the snapshot to publish; have maps the configured
// origins to where they come from, and gets origin. s.mu must be held.
func (s *ZoneSet) addLocked(origin, from string, l ZoneLoader, have map[string]string) (*zones.Zone, error) {
	e := zoneEntry{origin: origin, from: from, loader: l}
	z, err := s.load(e)
	return s.added(e, z, err, have)
}

// added adds e, which loaded as z or failed with err, and returns the snapshot to publish; have
// maps the configured origins to where they come from, and gets e's. s.mu must be held.
func (s *ZoneSet) added(e zoneEntry, z *zones.Zone, err error, have map[string]string) (*zones.Zone, error) {
	origin, from := e.origin, e.from
	if prev, ok := have[origin]; ok {
		return nil, fmt.Errorf("zone %s configured twice (%s and %s)", origin, prev, from)
	}
	s.noteLoad(origin, z, err)
	if err != nil {
		if s.strict {
			return nil, err
		}
		s.log.Error("zone failed to load; answering SERVFAIL for it until a reload loads it", "zone", origin, "from", from, "err", err)
		s.zones = append(s.zones, e)
		have[origin] = from
		return zones.Failed(origin, failedReason), nil
	}
	s.zones = append(s.zones, e)
	have[origin] = from
	if z.Available() {
		s.log.Info("zone loaded", "zone", z.Origin(), "from", from, "serial", z.Serial(), "names", z.Names())
	} else {
		s.log.Info("zone configured, no data yet (SERVFAIL until it has some)", "zone", z.Origin(), "from", from)
	}
	return s.extend(z), nil
}

// options are the load options of the zone origin: signed zones cap their TTLs.
func (s *ZoneSet) options(origin string) zones.Options {
	var opt zones.Options
	if s.signed(origin) {
		opt.MaxTTL = zones.MaxSignedTTL
	}
	opt.MinSerial = s.minSerial[origin]
	return opt
}

// SetMinSerial raises the SOA serial the zone origin is served with to serial, now and at
// every reload, unless the zone's own serial is newer (RFC 1982); see zones.Options.MinSerial.
// The zone offered fully signed to secondaries uses it, so that the serial a secondary reads
// in an SOA query is the one of the version it can transfer.
func (s *ZoneSet) SetMinSerial(origin string, serial uint32) error {
	origin = dns.CanonicalName(origin)
	s.mu.Lock()
	if s.minSerial == nil {
		s.minSerial = map[string]uint32{}
	}
	s.minSerial[origin] = serial
	s.mu.Unlock()
	return s.ReloadZone(origin)
}

func (s *ZoneSet) load(e zoneEntry) (*zones.Zone, error) {
	if err := s.held[e.origin]; err != nil {
		return nil, err
	}
	z, err := e.loader.LoadZone(s.options(e.origin))
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", e.origin, err)
	}
	return z, nil
}

// Reload re-reads every zone file. Each zone is swapped atomically; a file that fails keeps the
// old zone serving, and its error (with file and line) is logged and returned.
func (s *ZoneSet) Reload() error {
	s.mu.Lock()
	entries := append([]zoneEntry(nil), s.zones...)
	s.mu.Unlock()
	var errs []error
	for _, e := range entries {
		if err := s.ReloadZone(e.origin); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ReloadZone re-reads one zone's file, or rebuilds it from its loader (also used when its
// signing state changes its TTL cap, and by secondaries after a transfer).
func (s *ZoneSet) ReloadZone(origin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.zones {
		if e.origin != origin {
			continue
		}
		z, err := s.load(e)
		s.noteLoad(origin, z, err)
		if err != nil {
			if old := s.store.Get(origin); old != nil && !old.Available() {
				s.log.Error("zone reload failed, still not loaded (SERVFAIL)", "zone", origin, "err", err)
			} else {
				s.log.Error("zone reload failed, still serving the previous version", "zone", origin, "err", err)
			}
			return err
		}
		old := s.store.Get(z.Origin())
		s.store.Set(s.extend(z))
		switch {
		case !z.Available():
			s.log.Info("zone has no servable data (SERVFAIL)", "zone", origin)
		case old != nil && old.Available() && old.Serial() == z.Serial():
			s.log.Info("zone reloaded", "zone", origin, "serial", z.Serial(), "note", "serial unchanged")
		default:
			s.log.Info("zone reloaded", "zone", origin, "serial", z.Serial())
		}
		return nil
	}
	return fmt.Errorf("zone %s is not configured", origin)
}

// SetExtra makes rrs part of the zone origin from now on, beside the data its loader builds,
// replacing the records set before (nil: none); the server's RFC 9615 signalling records use
// it. The zone's snapshot is rebuilt with them and swapped in atomically, and every reload
// keeps them. If the zone has no data now they are added when it loads. On error (a record
// that conflicts with the zone's data, such as a CNAME at the same name) nothing changes.
func (s *ZoneSet) SetExtra(origin string, rrs []dns.RR) error {
	origin = dns.CanonicalName(origin)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.zones, func(e zoneEntry) bool { return e.origin == origin }) {
		return fmt.Errorf("zone %s is not configured", origin)
	}
	base := s.base[origin]
	if base != nil && base.Available() && s.held[origin] == nil {
		z := base
		if len(rrs) > 0 {
			var err error
			if z, err = base.With(rrs, s.options(origin)); err != nil {
				return err
			}
		}
		s.store.Set(z)
	}
	if len(rrs) == 0 {
		delete(s.extra, origin)
	} else {
		s.extra[origin] = slices.Clone(rrs)
	}
	return nil
}

// extend records z as its zone's base and returns the snapshot to serve: z with the zone's
// extra records. If they no longer fit the zone's data, z is served without them and the
// error logged: the zone's own data comes first. Call with s.mu held.
func (s *ZoneSet) extend(z *zones.Zone) *zones.Zone {
	origin := z.Origin()
	s.base[origin] = z
	extra := s.extra[origin]
	if len(extra) == 0 || !z.Available() {
		return z
	}
	ext, err := z.With(extra, s.options(origin))
	if err != nil {
		s.log.Error("zone served without the records the server adds to it", "zone", origin, "err", err)
		return z
	}
	return ext
}

// Hold withholds the configured zone origin for a reason outside its data, err (its DNSSEC
// keys cannot be read, so its answers could not be signed): its names get SERVFAIL with the
// Extended DNS Error Not Ready and reason (what clients are told: nothing secret), and
// Status, the metrics and the log show err as a failed load. Until Release, every load of the
// zone fails with err; a Hold of a zone already held only replaces err, for the next load to
// report.
func (s *ZoneSet) Hold(origin, reason string, err error) error {
	origin = dns.CanonicalName(origin)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.zones, func(e zoneEntry) bool { return e.origin == origin }) {
		return fmt.Errorf("zone %s is not configured", origin)
	}
	already := s.held[origin] != nil
	s.held[origin] = err
	if already {
		return nil
	}
	s.noteLoad(origin, nil, err)
	s.store.Set(zones.Failed(origin, reason))
	s.log.Error("zone withheld: answering SERVFAIL for it until a reload finds it fixed", "zone", origin, "err", err)
	return nil
}

// Release ends the Hold of the zone origin and loads it.
func (s *ZoneSet) Release(origin string) error {
	origin = dns.CanonicalName(origin)
	s.mu.Lock()
	delete(s.held, origin)
	s.mu.Unlock()
	return s.ReloadZone(origin)
}

// Available reports whether the zone origin has data to answer from.
func (s *ZoneSet) Available(origin string) bool {
	z := s.store.Get(origin)
	return z != nil && z.Available()
}

// Origins lists the configured zones.
func (s *ZoneSet) Origins() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.zones))
	for i, e := range s.zones {
		out[i] = e.origin
	}
	return out
}

// ZoneStatus is one zone's load status, for /readyz and the status page.
type ZoneStatus struct {
	Zone string `json:"Zone"`
	// From says where the zone comes from: its file, or its primaries.
	From string `json:"From"`
	// Loaded is set when the zone has servable data; without it, its names get SERVFAIL (a
	// file that failed to load at start, a secondary not transferred yet or expired).
	Loaded bool `json:"Loaded"`
	// Serial is the SOA serial served; LastLoad when it was loaded.
	Serial   uint32    `json:"Serial"`
	LastLoad time.Time `json:"LastLoad,omitzero"`
	// Failing is set when the last load failed (the previous version, if any, is served);
	// LastFailure is when.
	Failing     bool      `json:"Failing"`
	LastFailure time.Time `json:"LastFailure,omitzero"`
	// Error is the failing load's error, with the file and line.
	Error string `json:"Error,omitempty"`
}

// Status reports every configured zone's load status.
func (s *ZoneSet) Status() []ZoneStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ZoneStatus, 0, len(s.zones))
	for _, e := range s.zones {
		zs := ZoneStatus{Zone: e.origin, From: e.from}
		z := s.store.Get(e.origin)
		if z != nil && z.Available() {
			zs.Loaded, zs.Serial = true, z.Serial()
		}
		if st := s.loads[e.origin]; st != nil {
			zs.LastLoad, zs.Failing, zs.LastFailure = st.lastOK, st.failing, st.lastFailure
			if st.err != nil {
				zs.Error = st.err.Error()
			}
		}
		if zs.Error == "" && z != nil && !z.Available() {
			// A placeholder says why itself (a secondary not transferred yet, or expired).
			zs.Error = z.Reason()
		}
		out = append(out, zs)
	}
	return out
}

// RegisterMetrics exports every zone's loads, failures and serial, read at scrape time.
func (s *ZoneSet) RegisterMetrics(reg prometheus.Registerer) error {
	return reg.Register(&zoneCollector{s: s,
		loads: prometheus.NewDesc("signet_zone_loads_total",
			"Loads and reloads of each zone, by result (ok, failed).", []string{"zone", "result"}, nil),
		serial: prometheus.NewDesc("signet_zone_serial",
			"SOA serial of the zone as served.", []string{"zone"}, nil),
		failing: prometheus.NewDesc("signet_zone_load_failing",
			"1 when the zone's last load failed (its previous version, if any, is still served).", []string{"zone"}, nil),
		lastOK: prometheus.NewDesc("signet_zone_last_load_timestamp_seconds",
			"When the zone was last loaded successfully (Unix time).", []string{"zone"}, nil),
	})
}

type zoneCollector struct {
	s                              *ZoneSet
	loads, serial, failing, lastOK *prometheus.Desc
}

func (c *zoneCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.loads
	ch <- c.serial
	ch <- c.failing
	ch <- c.lastOK
}

func (c *zoneCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	for origin, st := range c.s.loads {
		ch <- prometheus.MustNewConstMetric(c.loads, prometheus.CounterValue, float64(st.ok), origin, "ok")
		ch <- prometheus.MustNewConstMetric(c.loads, prometheus.CounterValue, float64(st.failed), origin, "failed")
		ch <- prometheus.MustNewConstMetric(c.serial, prometheus.GaugeValue, float64(st.serial), origin)
		failing := 0.0
		if st.failing {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, failing, origin)
		if !st.lastOK.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.lastOK, prometheus.GaugeValue, float64(st.lastOK.Unix()), origin)
		}
	}
}
