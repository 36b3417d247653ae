package xfr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

// KeySource reports a zone's key ring and denial mode; the key manager implements it.
type KeySource interface {
	Signing(zone string) (*signer.KeyRing, signer.Mode, bool)
}

// PublisherConfig describes how one zone's versions for secondaries are made.
type PublisherConfig struct {
	Out  *Outgoing
	Zone func() *zones.Zone // the snapshot served now (nil or unavailable: nothing yet)
	// Signed makes the versions fully signed (NSEC or NSEC3 chain, every RRset signed), for
	// secondaries that do not sign. The zone's denial mode must be signer.NSEC or NSEC3.
	// Unsigned versions are the zone as loaded, with its own serial.
	Signed bool
	Keys   KeySource
	Signer *signer.Signer
	// SerialPath keeps the last serial published of a signed zone, so that a restart never
	// hands secondaries a serial they already have with other signatures.
	SerialPath string
	// SetSerial makes the served zone's SOA carry serial (a signed version gets serials its
	// zone file does not), before secondaries are told of the version: they compare the
	// serial of an SOA query with their own before they transfer.
	SetSerial func(serial uint32) error
	Now       func() time.Time // default time.Now
	Interval  time.Duration    // how often Run looks for a change; default 500 ms
	Workers   int              // signing goroutines; default GOMAXPROCS (every core)
	Logger    *slog.Logger
}

// Publisher turns the served zone into versions for its Outgoing: at once after a zone change
// or a key change (a rollover), and for a signed zone again before its earliest signature
// enters the signer's refresh window, so that secondaries receive fresh signatures by IXFR.
type Publisher struct {
	cfg PublisherConfig
	log *slog.Logger

	lastZone *zones.Zone
	lastRing *signer.KeyRing
	body     []dns.RR // the last signed version without its SOA and the SOA's RRSIGs
	soa      *dns.SOA // the last version's SOA
	serial   uint32   // the last serial published (signed zones)
	resignAt time.Time
	warned   string
}

// NewPublisher returns a Publisher; for a signed zone it reads the last serial published.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if cfg.Out == nil || cfg.Zone == nil {
		return nil, errors.New("xfr: publisher needs Out and Zone")
	}
	if cfg.Signed && (cfg.Keys == nil || cfg.Signer == nil || cfg.SerialPath == "") {
		return nil, errors.New("xfr: a signed publisher needs Keys, Signer and SerialPath")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 500 * time.Millisecond
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Publisher{cfg: cfg, log: cfg.Logger.With("zone", cfg.Out.Origin())}
	if cfg.Signed {
		b, err := os.ReadFile(cfg.SerialPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			var st struct{ Serial uint32 }
			if err := json.Unmarshal(b, &st); err != nil {
				return nil, fmt.Errorf("%s: %w", cfg.SerialPath, err)
			}
			p.serial = st.Serial
		}
	}
	return p, nil
}

// Run publishes until ctx ends.
func (p *Publisher) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Interval)
	defer t.Stop()
	last := ""
	for {
		// A failure that lasts (a KSK that cannot sign, say) is logged when it starts and when
		// it changes, not twice a second.
		if err := p.Step(p.cfg.Now()); err != nil && err.Error() != last {
			last = err.Error()
			p.log.Error("making the zone version for secondaries failed; they keep the previous one", "err", err)
		} else if err == nil && last != "" {
			last = ""
			p.log.Info("zone versions for secondaries are made again")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step publishes a new version if the zone, its keys or the age of its signatures call for
// one at now.
func (p *Publisher) Step(now time.Time) error {
	z := p.cfg.Zone()
	if z == nil || !z.Available() {
		return nil
	}
	if !p.cfg.Signed {
		if z == p.lastZone {
			return nil
		}
		var rrs []dns.RR
		z.Walk(func(set []dns.RR, _ bool) { rrs = append(rrs, set...) })
		if _, err := p.cfg.Out.Publish(rrs); err != nil {
			return err
		}
		p.lastZone = z
		return nil
	}

	origin := z.Origin()
	ring, mode, ok := p.cfg.Keys.Signing(origin)
	switch {
	case !ok:
		p.warnOnce("the zone is not signed (NOT_SIGNING): secondaries get nothing until it is")
		return nil
	case mode != signer.NSEC && mode != signer.NSEC3:
		p.warnOnce("transfer: signed needs denial: nsec or nsec3; secondaries get nothing")
		return nil
	}
	if z == p.lastZone && ring == p.lastRing && now.Before(p.resignAt) {
		return nil
	}
	start := time.Now()
	body, earliest, err := p.signBody(z, ring, mode, now)
	if err != nil {
		return err
	}
	p.resignAt = earliest.Add(-p.cfg.Signer.Config().Refresh).Add(time.Minute)
	if p.body != nil && p.soa != nil && z.SOA().String() == p.soa.String() && sameRecords(p.body, body) {
		// Nothing new (this is the zone raised to the last version's serial, say).
		p.lastZone, p.lastRing = z, ring
		return nil
	}
	serial := p.serial + 1
	if serialNewer(p.serial, z.Serial()) {
		serial = z.Serial() // the operator's serial when it moves ahead
	}
	if serial != z.Serial() && p.cfg.SetSerial != nil {
		if err := p.cfg.SetSerial(serial); err != nil {
			return fmt.Errorf("serving serial %d: %w", serial, err)
		}
	}
	soa := dns.Copy(z.SOA()).(*dns.SOA)
	soa.Serial = serial
	soaSigs, err := p.cfg.Signer.SignRRset([]dns.RR{soa}, ring, now)
	if err != nil {
		return fmt.Errorf("signing the SOA: %w", err)
	}
	rrs := make([]dns.RR, 0, 1+len(soaSigs)+len(body))
	rrs = append(append(append(rrs, soa), soaSigs...), body...)
	if err := saveSerial(p.cfg.SerialPath, serial); err != nil {
		return fmt.Errorf("saving the serial: %w", err)
	}
	if _, err := p.cfg.Out.Publish(rrs); err != nil {
		return err
	}
	p.serial, p.soa, p.body, p.lastZone, p.lastRing = serial, soa, body, z, ring
	p.log.Info("signed zone version made", "serial", serial, "records", len(rrs), "took", time.Since(start).Round(time.Millisecond), "workers", p.cfg.Workers)
	return nil
}

func (p *Publisher) warnOnce(msg string) {
	if p.warned != msg {
		p.warned = msg
		p.log.Warn(msg)
	}
}

func saveSerial(path string, serial uint32) error {
	b, _ := json.Marshal(struct{ Serial uint32 }{serial})
	return atomicfile.Write(filepath.Dir(path), filepath.Base(path), append(b, '\n'))
}

// sameRecords reports whether a and b hold the same records in the same order (compared in
// wire form, as difference does: cheaper than text for a large zone).
func sameRecords(a, b []dns.RR) bool {
	if len(a) != len(b) {
		return false
	}
	var ka, kb string
	var buf []byte
	for i := range a {
		if a[i] == b[i] {
			continue
		}
		ka, buf = wireKey(a[i], buf)
		kb, buf = wireKey(b[i], buf)
		if ka != kb {
			return false
		}
	}
	return true
}

// signBody returns the signed zone without its SOA RRset: every RRset with its RRSIGs (glue
// and the NS at cuts unsigned), the ring's key RRsets signed by the KSK, and the NSEC chain
// (RFC 4034 §4), or the NSEC3 chain and NSEC3PARAM (RFC 5155), with the records the online
// answers of that mode carry. The signatures are made by Workers
// goroutines through the signer's cache, so an unchanged RRset keeps its signature. earliest is
// the first expiration among them.
func (p *Publisher) signBody(z *zones.Zone, ring *signer.KeyRing, mode signer.Mode, now time.Time) ([]dns.RR, time.Time, error) {
	type job struct {
		set  []dns.RR
		sign bool
		sigs []dns.RR
	}
	var jobs []*job
	z.Walk(func(set []dns.RR, auth bool) {
		if set[0].Header().Rrtype == dns.TypeSOA {
			return
		}
		jobs = append(jobs, &job{set: set, sign: auth})
	})
	origin := z.Origin()
	for _, set := range [][]dns.RR{ring.DNSKEYs(), ring.CDS(), ring.CDNSKEY()} {
		if len(set) > 0 {
			jobs = append(jobs, &job{set: set, sign: true})
		}
	}
	if mode == signer.NSEC3 {
		jobs = append(jobs, &job{set: []dns.RR{signer.NSEC3PARAM(origin)}, sign: true})
		for _, rec := range signer.ZoneNSEC3(z, origin, z.SOA(), ring) {
			jobs = append(jobs, &job{set: []dns.RR{rec}, sign: true})
		}
	} else {
		owner := origin
		for range z.Names() + 1 { // the chain has at most one link per name, plus the apex
			nsec := signer.ZoneNSEC(z, origin, z.SOA(), ring, owner)
			jobs = append(jobs, &job{set: []dns.RR{nsec}, sign: true})
			if owner = nsec.NextDomain; owner == origin {
				break
			}
		}
	}

	work := make(chan *job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range p.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				sigs, err := p.cfg.Signer.SignRRset(j.set, ring, now)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				j.sigs = sigs
			}
		}()
	}
	for _, j := range jobs {
		if j.sign {
			work <- j
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, time.Time{}, firstErr
	}
	var body []dns.RR
	var earliest uint32
	for _, j := range jobs {
		body = append(body, j.set...)
		for _, rr := range j.sigs {
			if sig, ok := rr.(*dns.RRSIG); ok && (earliest == 0 || serialNewer(sig.Expiration, earliest)) {
				earliest = sig.Expiration
			}
		}
		body = append(body, j.sigs...)
	}
	return body, time.Unix(int64(earliest), 0), nil
}
