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

// ZoneSet loads the configured zone files into a zones.Store and reloads them. A file that
// fails to load on reload leaves the zone it held serving as it was.
type ZoneSet struct {
	store  *zones.Store
	log    *slog.Logger
	signed func(origin string) bool

	mu    sync.Mutex // serialises reloads
	files []ZoneFile
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
func (s *ZoneSet) Add(f ZoneFile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.files {
		if have.Origin == f.Origin {
			return fmt.Errorf("zone %s configured twice (%s and %s)", f.Origin, have.Path, f.Path)
		}
	}
	z, err := s.load(f)
	if err != nil {
		return err
	}
	s.files = append(s.files, f)
	s.store.Set(z)
	s.log.Info("zone loaded", "zone", z.Origin(), "file", f.Path, "serial", z.Serial(), "names", z.Names())
	return nil
}

func (s *ZoneSet) load(f ZoneFile) (*zones.Zone, error) {
	var opt zones.Options
	if s.signed(f.Origin) {
		opt.MaxTTL = zones.MaxSignedTTL
	}
	z, err := zones.Load(f.Origin, f.Path, opt)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", f.Origin, err)
	}
	return z, nil
}

// Reload re-reads every zone file. Each zone is swapped atomically; a file that fails keeps the
// old zone serving, and its error (with file and line) is logged and returned.
func (s *ZoneSet) Reload() error {
	s.mu.Lock()
	files := append([]ZoneFile(nil), s.files...)
	s.mu.Unlock()
	var errs []error
	for _, f := range files {
		if err := s.ReloadZone(f.Origin); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ReloadZone re-reads one zone's file (also used when its signing state changes its TTL cap).
func (s *ZoneSet) ReloadZone(origin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		if f.Origin != origin {
			continue
		}
		z, err := s.load(f)
		if err != nil {
			s.log.Error("zone reload failed, still serving the previous version", "zone", origin, "err", err)
			return err
		}
		old := s.store.Get(z.Origin())
		s.store.Set(z)
		if old != nil && old.Serial() == z.Serial() {
			s.log.Info("zone reloaded", "zone", origin, "serial", z.Serial(), "note", "serial unchanged")
		} else {
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
	out := make([]string, len(s.files))
	for i, f := range s.files {
		out[i] = f.Origin
	}
	return out
}
