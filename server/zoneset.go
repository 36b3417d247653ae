package server

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

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

	mu    sync.Mutex // serialises reloads
	zones []zoneEntry
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
	return &ZoneSet{store: zones.NewStore(), log: log, signed: signed}
}

// Store is the set's zone store, for the Handler.
func (s *ZoneSet) Store() *zones.Store { return s.store }

// Add loads a zone file and starts serving it. The error names the file and line.
func (s *ZoneSet) Add(f ZoneFile) error { return s.AddLoader(f.Origin, f.Path, f) }

// AddLoader starts serving the zone origin as l builds it; from says where it comes from (a
// file name, "AXFR from ...") in logs.
func (s *ZoneSet) AddLoader(origin, from string, l ZoneLoader) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.zones {
		if have.origin == origin {
			return fmt.Errorf("zone %s configured twice (%s and %s)", origin, have.from, from)
		}
	}
	e := zoneEntry{origin: origin, from: from, loader: l}
	z, err := s.load(e)
	if err != nil {
		return err
	}
	s.zones = append(s.zones, e)
	s.store.Set(z)
	if z.Available() {
		s.log.Info("zone loaded", "zone", z.Origin(), "from", from, "serial", z.Serial(), "names", z.Names())
	} else {
		s.log.Info("zone configured, no data yet (SERVFAIL until it has some)", "zone", z.Origin(), "from", from)
	}
	return nil
}

func (s *ZoneSet) load(e zoneEntry) (*zones.Zone, error) {
	var opt zones.Options
	if s.signed(e.origin) {
		opt.MaxTTL = zones.MaxSignedTTL
	}
	z, err := e.loader.LoadZone(opt)
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
		if err != nil {
			s.log.Error("zone reload failed, still serving the previous version", "zone", origin, "err", err)
			return err
		}
		old := s.store.Get(z.Origin())
		s.store.Set(z)
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
