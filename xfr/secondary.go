package xfr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/zones"
)

// SecondaryConfig describes one zone kept current from its primaries.
type SecondaryConfig struct {
	Origin    string
	Primaries []string // host:port, tried in order
	Key       *Key     // TSIG key for transfers and NOTIFY; nil: none
	// Path is where the copy is kept (a master file, with Path+".refreshed" beside it).
	Path string
	// Changed is called after the copy served changes: a transfer, or the SOA expire time
	// passing. The caller rebuilds its snapshot with LoadZone.
	Changed func(origin string)
	Logger  *slog.Logger
	Now     func() time.Time // default time.Now
	// Timeout bounds one transfer, connection to last record. Default 15 minutes (a zone of
	// millions of records takes minutes).
	Timeout time.Duration
	// ReadTimeout bounds the wait for each message of a transfer: a primary that stops
	// sending fails the transfer this long after its last message. Default 30 s.
	ReadTimeout time.Duration
	// MaxRecords bounds the records one transfer may bring. Default 10,000,000.
	MaxRecords int
	// MinInterval is the shortest refresh or retry interval honoured, whatever the SOA says,
	// so that a zone with tiny timers cannot keep the server busy. Default 1 s.
	MinInterval time.Duration
	Metrics     *Metrics // nil: none
}

// Secondary is the source of one secondary zone. It is safe for concurrent use: Run does the
// transfers while Zone is called by whoever serves the zone.
type Secondary struct {
	cfg    SecondaryConfig
	log    *slog.Logger
	notify chan struct{}

	mu        sync.Mutex
	rrs       []dns.RR // the copy, SOA first; nil when there is none
	refreshed time.Time
	expired   bool
	version   uint64 // bumped when rrs changes
	built     *zones.Zone
	builtOpt  zones.Options
	builtVer  uint64
}

// NewSecondary loads the saved copy at cfg.Path, if there is one. A copy that cannot be read
// is logged and ignored: the zone is transferred again.
func NewSecondary(cfg SecondaryConfig) (*Secondary, error) {
	cfg.Origin = dns.CanonicalName(cfg.Origin)
	if len(cfg.Primaries) == 0 {
		return nil, fmt.Errorf("zone %s: no primaries", cfg.Origin)
	}
	for _, p := range cfg.Primaries {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return nil, fmt.Errorf("zone %s: primary %q: want host:port", cfg.Origin, p)
		}
	}
	if cfg.Path == "" {
		return nil, fmt.Errorf("zone %s: no path for the secondary copy", cfg.Origin)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Minute
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = 10_000_000
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = time.Second
	}
	if cfg.Changed == nil {
		cfg.Changed = func(string) {}
	}
	s := &Secondary{cfg: cfg, log: cfg.Logger.With("zone", cfg.Origin), notify: make(chan struct{}, 1)}
	rrs, refreshed, err := loadCopy(cfg.Path, cfg.Origin)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		s.log.Error("saved secondary copy unreadable; transferring the zone again", "err", err)
	default:
		if _, berr := zones.FromRecords(cfg.Origin, rrs, cfg.Path, zones.Options{}); berr != nil {
			s.log.Error("saved secondary copy does not load; transferring the zone again", "err", berr)
			break
		}
		s.rrs, s.refreshed = soaFirst(rrs), refreshed
		s.expired = s.pastExpire(cfg.Now())
		s.log.Info("secondary copy loaded", "serial", s.serial(), "refreshed", refreshed.UTC().Format(time.RFC3339), "expired", s.expired)
		cfg.Metrics.refreshed(cfg.Origin, "loaded", s.serial(), refreshed)
		if s.expired {
			cfg.Metrics.setExpired(cfg.Origin)
		}
	}
	return s, nil
}

// Origin is the zone's apex.
func (s *Secondary) Origin() string { return s.cfg.Origin }

// Key is the zone's TSIG key, or nil.
func (s *Secondary) Key() *Key { return s.cfg.Key }

// LoadZone builds the snapshot to serve: the copy, or a placeholder that answers SERVFAIL
// (zones.Failed while there is no copy, zones.Expired once it has expired).
func (s *Secondary) LoadZone(opt zones.Options) (*zones.Zone, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.rrs == nil:
		return zones.Failed(s.cfg.Origin, "secondary zone not transferred yet"), nil
	case s.expired:
		return zones.Expired(s.cfg.Origin, "secondary zone expired: no primary answered within the SOA expire time"), nil
	}
	if s.built != nil && s.builtVer == s.version && s.builtOpt == opt {
		return s.built, nil
	}
	z, err := zones.FromRecords(s.cfg.Origin, s.rrs, "secondary copy of "+s.cfg.Origin, opt)
	if err != nil {
		return nil, err
	}
	s.built, s.builtOpt, s.builtVer = z, opt, s.version
	return z, nil
}

// Serial is the serial of the copy held (0 when there is none), and whether there is one.
func (s *Secondary) Serial() (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rrs == nil {
		return 0, false
	}
	return s.serial(), true
}

func (s *Secondary) serial() uint32 { return s.rrs[0].(*dns.SOA).Serial }

// Notify asks Run to refresh now (a NOTIFY arrived). It never blocks.
func (s *Secondary) Notify() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// pastExpire reports whether the copy is past its SOA expire time, counted from the last
// successful refresh (RFC 1035 §3.3.13). Called with mu held.
func (s *Secondary) pastExpire(now time.Time) bool {
	if s.rrs == nil {
		return false
	}
	exp := time.Duration(s.rrs[0].(*dns.SOA).Expire) * time.Second
	return !now.Before(s.refreshed.Add(exp))
}

// timers returns the SOA refresh and retry intervals (or the minimum while there is no copy).
func (s *Secondary) timers() (refresh, retry time.Duration, expireAt time.Time, have bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rrs == nil {
		return s.cfg.MinInterval, s.cfg.MinInterval, time.Time{}, false
	}
	soa := s.rrs[0].(*dns.SOA)
	refresh = max(time.Duration(soa.Refresh)*time.Second, s.cfg.MinInterval)
	retry = max(time.Duration(soa.Retry)*time.Second, s.cfg.MinInterval)
	return refresh, retry, s.refreshed.Add(time.Duration(soa.Expire) * time.Second), !s.expired
}

// Run keeps the zone current until ctx ends: a refresh at start, then at the SOA refresh
// interval after a success and the retry interval after a failure, and at once on Notify. When
// the expire time passes without a successful refresh the zone stops being served.
func (s *Secondary) Run(ctx context.Context) {
	next := s.cfg.Now() // refresh at start (RFC 1035 §4.3.5: a secondary checks on start-up)
	fails := 0          // failed refreshes in a row
	for {
		_, _, expireAt, live := s.timers()
		now := s.cfg.Now()
		wake := next
		if live && expireAt.Before(wake) {
			wake = expireAt
		}
		t := time.NewTimer(max(wake.Sub(now), 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.notify:
			t.Stop()
			next = s.cfg.Now()
		case <-t.C:
		}
		now = s.cfg.Now()
		if live && !now.Before(expireAt) {
			s.expire(now)
		}
		if now.Before(next) {
			continue
		}
		if err := s.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			_, retry, _, live := s.timers()
			msg := "zone refresh failed; still serving the copy held"
			if !s.hasCopy() {
				// No SOA gives a retry interval yet: back off from MinInterval, doubling up
				// to noCopyMaxRetry, so that a primary that is down for long is not asked
				// (nor logged about) every second. A NOTIFY still refreshes at once.
				retry = min(s.cfg.MinInterval<<min(fails, 16), max(noCopyMaxRetry, s.cfg.MinInterval))
				msg = "zone refresh failed; no copy to serve (SERVFAIL) until a transfer succeeds"
			} else if !live {
				msg = "zone refresh failed; the copy has expired (SERVFAIL) until a transfer succeeds"
			}
			fails++
			s.log.Warn(msg, "err", err, "retry_in", retry.String())
			next = s.cfg.Now().Add(retry)
			continue
		}
		fails = 0
		refresh, _, _, _ := s.timers()
		next = s.cfg.Now().Add(refresh)
	}
}

// noCopyMaxRetry caps the retry interval of a zone never transferred.
const noCopyMaxRetry = time.Minute

// hasCopy reports whether a copy of the zone is held (served, or expired).
func (s *Secondary) hasCopy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rrs != nil
}

func (s *Secondary) expire(now time.Time) {
	s.mu.Lock()
	if s.expired || !s.pastExpire(now) {
		s.mu.Unlock()
		return
	}
	s.expired = true
	s.version++
	serial := s.serial()
	s.mu.Unlock()
	s.log.Error("zone expired: no successful refresh within the SOA expire time; answering SERVFAIL until a primary answers", "serial", serial)
	s.cfg.Metrics.setExpired(s.cfg.Origin)
	s.cfg.Changed(s.cfg.Origin)
}

// Refresh brings the copy up to date from the first primary that answers well: IXFR when a
// copy is held (AXFR when the primary cannot send the difference or it does not apply), AXFR
// otherwise. On any error the copy held is kept.
func (s *Secondary) Refresh(ctx context.Context) error {
	var errs []error
	for _, p := range s.cfg.Primaries {
		err := s.refreshFrom(ctx, p)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("primary %s: %w", p, err))
		if ctx.Err() != nil {
			break
		}
	}
	s.cfg.Metrics.refreshed(s.cfg.Origin, "failed", 0, time.Time{})
	return errors.Join(errs...)
}

func (s *Secondary) refreshFrom(ctx context.Context, primary string) error {
	s.mu.Lock()
	have := s.rrs
	s.mu.Unlock()
	if have != nil {
		soa := have[0].(*dns.SOA)
		all, err := s.transfer(ctx, primary, dns.TypeIXFR, soa)
		var res ixfrResult
		if err == nil {
			res, err = applyIXFR(have, all)
		} else if rc, ok := xfrRcode(err); ok && (rc == dns.RcodeNotImplemented || rc == dns.RcodeFormatError) {
			// A primary without IXFR at all says so with NOTIMP or FORMERR (RFC 1995 §2 came
			// after many servers): ask it for the whole zone, as BIND and Knot do.
			err = fmt.Errorf("%w: the primary answered IXFR with %s", errFallback, dns.RcodeToString[rc])
		} else {
			return fmt.Errorf("IXFR: %w", err)
		}
		switch {
		case err == nil && res.upToDate:
			return s.markRefreshed(soa.Serial)
		case err == nil:
			kind := "IXFR"
			if res.full {
				kind = "IXFR (whole zone)"
			}
			ierr := s.install(res.rrs, kind+" from "+primary)
			if ierr == nil || res.full {
				return ierr
			}
			s.log.Warn("IXFR result does not load; trying AXFR", "primary", primary, "err", ierr)
		case errors.Is(err, errFallback):
			s.log.Info("IXFR not applicable; trying AXFR", "primary", primary, "reason", err)
		default:
			return fmt.Errorf("IXFR: %w", err)
		}
	}
	all, err := s.transfer(ctx, primary, dns.TypeAXFR, nil)
	if err != nil {
		return fmt.Errorf("AXFR: %w", err)
	}
	if len(all) < 2 || !isSOA(all[0]) || !isSOA(all[len(all)-1]) || all[0].(*dns.SOA).Serial != all[len(all)-1].(*dns.SOA).Serial {
		return errors.New("AXFR: the answer is not enclosed in the zone's SOA (truncated?)")
	}
	return s.install(all[:len(all)-1], "AXFR from "+primary)
}

// install checks a new copy and, if it loads and its serial is not older than the one held,
// serves and saves it.
func (s *Secondary) install(rrs []dns.RR, source string) error {
	rrs = soaFirst(rrs)
	soa, ok := rrs[0].(*dns.SOA)
	if !ok {
		return fmt.Errorf("%s: no SOA record", source)
	}
	if have, ok := s.Serial(); ok {
		switch serialCmp(have, soa.Serial) {
		case 1:
			return fmt.Errorf("serial went backwards: %s has %d, this copy %d", source, soa.Serial, have)
		case 0:
			// Same serial: the zone is unchanged by definition (RFC 1034 §4.3.5); keep ours.
			return s.markRefreshed(soa.Serial)
		}
	}
	if _, err := zones.FromRecords(s.cfg.Origin, rrs, source, zones.Options{}); err != nil {
		return fmt.Errorf("the transferred zone does not load: %w", err)
	}
	now := s.cfg.Now()
	if err := saveZone(s.cfg.Path, s.cfg.Origin, rrs); err != nil {
		// Serving a copy that a restart would lose is still better than the old one.
		s.log.Error("saving the secondary copy failed", "path", s.cfg.Path, "err", err)
	} else if err := saveMeta(s.cfg.Path, meta{Serial: soa.Serial, Refreshed: now}); err != nil {
		s.log.Error("saving the refresh time failed", "path", s.cfg.Path, "err", err)
	}
	s.mu.Lock()
	s.rrs, s.refreshed, s.expired = rrs, now, false
	s.version++
	s.mu.Unlock()
	s.log.Info("zone transferred", "source", source, "serial", soa.Serial, "records", len(rrs))
	s.cfg.Metrics.refreshed(s.cfg.Origin, "updated", soa.Serial, now)
	s.cfg.Changed(s.cfg.Origin)
	return nil
}

// markRefreshed records a successful refresh that found serial, the copy's, unchanged.
func (s *Secondary) markRefreshed(serial uint32) error {
	now := s.cfg.Now()
	s.mu.Lock()
	s.refreshed = now
	wasExpired := s.expired
	s.expired = false
	if wasExpired {
		s.version++
	}
	s.mu.Unlock()
	if err := saveMeta(s.cfg.Path, meta{Serial: serial, Refreshed: now}); err != nil {
		s.log.Error("saving the refresh time failed", "path", s.cfg.Path, "err", err)
	}
	s.log.Debug("zone up to date", "serial", serial)
	s.cfg.Metrics.refreshed(s.cfg.Origin, "unchanged", serial, now)
	if wasExpired {
		s.log.Info("zone refreshed after expiry; serving again", "serial", serial)
		s.cfg.Changed(s.cfg.Origin)
	}
	return nil
}

// transfer runs one AXFR or IXFR (have: the SOA held) with TSIG when configured, and returns
// every record of the answer. Any error (network, TSIG, rcode, an answer cut short) fails it.
func (s *Secondary) transfer(ctx context.Context, primary string, qtype uint16, have *dns.SOA) ([]dns.RR, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	m := new(dns.Msg)
	if qtype == dns.TypeIXFR {
		m.SetIxfr(s.cfg.Origin, have.Serial, have.Ns, have.Mbox)
	} else {
		m.SetAxfr(s.cfg.Origin)
	}
	tr := &dns.Transfer{DialTimeout: 10 * time.Second, ReadTimeout: s.cfg.ReadTimeout, WriteTimeout: 10 * time.Second}
	if k := s.cfg.Key; k != nil {
		// TSIG time is wall-clock time on the wire (RFC 8945 §5.2.3), not the injected clock.
		m.SetTsig(k.Name, k.Algorithm, 300, time.Now().Unix())
		tr.TsigSecret = secrets(k)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", primary)
	if err != nil {
		return nil, err
	}
	tr.Conn = &dns.Conn{Conn: conn}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	ch, err := tr.In(m, primary)
	if err != nil {
		conn.Close()
		return nil, err
	}
	var all []dns.RR
	var ferr error
	for env := range ch {
		if ferr != nil {
			continue // drain: In closes the channel after closing the connection
		}
		if env.Error != nil {
			ferr = env.Error
			if ctx.Err() != nil {
				ferr = fmt.Errorf("%w (%v)", ctx.Err(), env.Error)
			}
			conn.Close()
			continue
		}
		all = append(all, env.RR...)
		if len(all) > s.cfg.MaxRecords {
			ferr = fmt.Errorf("more than %d records", s.cfg.MaxRecords)
			conn.Close()
		}
	}
	if ferr != nil {
		if s.cfg.Key != nil && (errors.Is(ferr, dns.ErrSig) || errors.Is(ferr, dns.ErrNoSig) || errors.Is(ferr, dns.ErrTime)) {
			return nil, fmt.Errorf("TSIG check of the answer failed (is key %s the primary's, with the same secret?): %w", s.cfg.Key.Name, ferr)
		}
		return nil, ferr
	}
	return all, nil
}

// soaFirst returns rrs with its (first) SOA moved to the front.
func soaFirst(rrs []dns.RR) []dns.RR {
	if len(rrs) > 0 && isSOA(rrs[0]) {
		return rrs
	}
	out := make([]dns.RR, 0, len(rrs))
	for i, rr := range rrs {
		if isSOA(rr) {
			out = append(out, rr)
			out = append(out, rrs[:i]...)
			return append(out, rrs[i+1:]...)
		}
	}
	return rrs
}

// xfrRcode returns the rcode of a transfer answer that miekg/dns reported as an error
// ("bad xfr rcode: N"), and whether err is one.
func xfrRcode(err error) (int, bool) {
	var de *dns.Error
	if !errors.As(err, &de) {
		return 0, false
	}
	var rc int
	if _, err := fmt.Sscanf(de.Error(), "dns: bad xfr rcode: %d", &rc); err != nil {
		return 0, false
	}
	return rc, true
}
