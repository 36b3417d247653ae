package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/dnssecmetrics"
	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore"
	etcdkeys "github.com/signetdns/signet/keystore/etcd"
	"github.com/signetdns/signet/keystore/file"
	"github.com/signetdns/signet/keystore/tpm"
	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/statestore"
	filestate "github.com/signetdns/signet/statestore/file"
	"github.com/signetdns/signet/zones"
)

// dnssecRuntime is the DNSSEC side of a running server, as serve wires it.
type dnssecRuntime interface {
	Signed(origin string) bool
	Start(ctx context.Context, c *config, zs *server.ZoneSet) error
	Keys() server.KeySource
	Signer() server.Signer
	API() admin.Manager
	// CanSign reports whether a signed zone's answers can be signed now, and if not why.
	CanSign(origin string) (bool, string)
	// Cluster reports the cluster's status for the admin API; nil for a single server.
	Cluster() func(ctx context.Context) (any, error)
	// ClusterReadiness is this instance's part in its cluster for /readyz; nil for a single
	// server.
	ClusterReadiness() *admin.ClusterReadiness
	// ReloadCluster takes again what of the cluster's configuration a running server can
	// change (cluster.recipients), from the configuration c's file holds now.
	ReloadCluster(c *config) error
	// RetryZones starts again the zones whose keys failed to start (withheld, SERVFAIL): a
	// reload does, before the zone files are read again.
	RetryZones(ctx context.Context, zs *server.ZoneSet) error
	Close()
}

// signing is the runtime of a server with the key manager: zones become signed through the
// admin API (Route 53's procedure) or at start with --dnssec.
type signing struct {
	c      *config
	log    *slog.Logger
	soft   keystore.Store
	tpm    keystore.Store
	sig    *signer.Signer
	mgr    *keymgr.Manager
	cancel context.CancelFunc
	// cluster is set on a cluster member: Start runs its node instead of the key manager's
	// loop, which runs while this instance leads.
	cluster *clusterRuntime
	reg     prometheus.Registerer

	// withheldMu guards withheld: the zones whose keys failed to start (keymgr.ZoneError),
	// answered SERVFAIL until a reload starts them (RetryZones).
	withheldMu sync.Mutex
	withheld   map[string]zoneConfig
}

// setupDNSSEC opens the keystores and the key manager. Every server has them, so that signing
// can be enabled at run time; --dnssec only decides whether zones start signed.
func setupDNSSEC(ctx context.Context, c *config, log *slog.Logger, reg prometheus.Registerer) (dnssecRuntime, error) {
	if err := ensurePrivateDir(c.State); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	pass, random, err := passphrase(c, log)
	if err != nil {
		return nil, err
	}
	wf := c.Keystore.WorkFactor
	if wf == 0 && random {
		// scrypt's cost protects guessable passphrases; a random 256-bit one cannot be
		// guessed, so a low cost loses nothing and keeps start-up quick.
		wf = 10
	}
	soft, err := file.Open(file.Options{
		Dir:        filepath.Join(c.State, "keys"),
		Passphrase: pass,
		WorkFactor: wf,
	})
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	// What every zone needs is checked before any zone starts: a failure here is the
	// server's, and stops the start, where a zone's own failure only withholds that zone.
	if err := serverWide(soft, c.State); err != nil {
		soft.Close()
		return nil, err
	}
	s := &signing{c: c, log: log, soft: soft, withheld: map[string]zoneConfig{}}
	if c.Keystore.TPM.Device != "" {
		t, err := tpm.Open(tpm.Options{Dir: filepath.Join(c.State, "tpm"), Device: c.Keystore.TPM.Device})
		if err != nil {
			soft.Close()
			return nil, fmt.Errorf("keystore.tpm.device %s: %w", c.Keystore.TPM.Device, err)
		}
		s.tpm = t
	}
	scfg := signer.Config{
		Validity:  c.DNSSEC.Validity,
		Refresh:   c.DNSSEC.Refresh,
		CacheSize: c.DNSSEC.CacheSize,
	}
	if reg != nil {
		lat, err := dnssecmetrics.NewSignLatency(reg)
		if err != nil {
			s.Close()
			return nil, err
		}
		scfg.ObserveSign = lat.Observe
	}
	s.sig = signer.New(scfg)
	state, err := filestate.Open(filepath.Join(c.State, "zones"))
	if err != nil {
		s.Close()
		return nil, err
	}
	kcfg := keymgr.Config{
		State:  state,
		Soft:   soft,
		Signer: s.sig.Config(),
		Logger: log,

		KSKCheckInterval: c.DNSSEC.KSKCheckInterval,
		KSKRetryMin:      c.DNSSEC.KSKRetryMin,
		// A single server answers as soon as each zone has the signatures valid now; a
		// cluster's other members serve only the whole set the leader saves.
		DeferPremade: !c.Cluster.enabled(),
	}
	if reg != nil {
		klat, err := dnssecmetrics.NewKeystoreLatency(reg)
		if err != nil {
			s.Close()
			return nil, err
		}
		kcfg.ObserveSign = klat.Observe
	}
	if s.tpm != nil {
		kcfg.TPM = s.tpm
	}
	stores := map[string]keystore.Store{"software": soft}
	if s.tpm != nil {
		stores["tpm"] = s.tpm
	}
	if c.Cluster.enabled() {
		// A cluster member: the key state and the ZSKs are shared in etcd, the state
		// directory keeps a copy of the ring served, and the KSKs stay in this instance's
		// own keystore (the file one, unless there is a TPM).
		cr, err := openCluster(c)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.cluster = cr
		kcfg.State, kcfg.Local, kcfg.Soft, kcfg.LocalKSK = cr.state, state, cr.keys, soft
		stores["etcd"] = cr.keys
	}
	mgr, err := keymgr.New(kcfg)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.mgr, s.reg = mgr, reg
	if reg != nil {
		if err := dnssecmetrics.Register(reg, mgr, stores); err != nil {
			s.Close()
			return nil, err
		}
		if err := dnssecmetrics.RegisterSigner(reg, s.sig, mgr.Now); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func (s *signing) Signed(origin string) bool { return s.mgr.Signed(origin) }

// Start adds every zone to the key manager (creating quick-start keys where asked) and starts
// its background loop. Zones whose signing state changes are reloaded, so that the one-week
// TTL cap of signed zones follows.
func (s *signing) Start(ctx context.Context, c *config, zs *server.ZoneSet) error {
	if s.cluster != nil {
		// The node makes the key manager follow before any zone is added: only the leader
		// creates keys.
		if err := s.cluster.join(c, s.mgr, zoneSerials(c, zs), s.reg, s.log); err != nil {
			return err
		}
	}
	s.mgr.OnKeyFailure(func(zone string, err error) { s.keysChanged(zs, zone, err) })
	if err := startZones(c.Zones, startWorkers(), func(z zoneConfig) error { return s.startZone(ctx, c, zs, z) }); err != nil {
		return err
	}
	s.mgr.OnChange(func(zone string) {
		if err := zs.ReloadZone(zone); err != nil {
			s.log.Error("reloading zone after a signing change", "zone", zone, "err", err)
		}
	})
	rctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if s.cluster != nil {
		s.cluster.done = make(chan struct{})
		go func() { defer close(s.cluster.done); s.cluster.node.Run(rctx) }()
		return nil
	}
	go s.mgr.Run(rctx)
	return nil
}

// keysFailedReason is what clients are told about a zone withheld because its keys failed to
// start (RFC 8914 EXTRA-TEXT, with EDE 14 Not Ready); the cause goes to the log and the
// zone's status only.
const keysFailedReason = "zone's DNSSEC keys failed to load"

// startZone adds z to the key manager. When that fails for z alone (keymgr.ZoneError: its
// key files or state unreadable, no ring to sign with) and the start is not strict, z is
// withheld (SERVFAIL) until a reload finds it fixed, and the other zones start.
func (s *signing) startZone(ctx context.Context, c *config, zs *server.ZoneSet, z zoneConfig) error {
	err := s.addZone(ctx, c, zs, z)
	ze := zoneOnly(err)
	if err == nil || c.Strict || ze == nil {
		return err
	}
	s.withheldMu.Lock()
	s.withheld[z.Origin] = z
	s.withheldMu.Unlock()
	return zs.Hold(z.Origin, keysFailedReason, keysFailed(z, ze))
}

// zoneOnly returns err's keymgr.ZoneError when err is one zone's own failure to start its
// keys, else nil. A key leader that lost the election meanwhile, or a state another writer
// changed, concern more than the zone: they stop the start.
func zoneOnly(err error) *keymgr.ZoneError {
	var ze *keymgr.ZoneError
	if !errors.As(err, &ze) || errors.Is(err, etcdkeys.ErrNotLeader) || errors.Is(err, statestore.ErrConflict) {
		return nil
	}
	return ze
}

// keysFailed is the error a withheld zone's status and log show.
func keysFailed(z zoneConfig, ze *keymgr.ZoneError) error {
	return fmt.Errorf("zone %s: DNSSEC keys or key state failed to load: %w", z.Origin, ze.Err)
}

// keysChanged withholds a started zone whose ring's ZSK could not be opened at its first
// signature (a start opens no key unless strict), as a zone whose keys failed at start is,
// and serves it again once the key manager serves it with its keys open (its retry).
func (s *signing) keysChanged(zs *server.ZoneSet, zone string, err error) {
	i := slices.IndexFunc(s.c.Zones, func(z zoneConfig) bool { return dns.CanonicalName(dns.Fqdn(z.Origin)) == zone })
	if i < 0 {
		return
	}
	z := s.c.Zones[i]
	s.withheldMu.Lock()
	defer s.withheldMu.Unlock()
	var ze *keymgr.ZoneError
	switch {
	case errors.As(err, &ze):
		s.withheld[z.Origin] = z
		if err := zs.Hold(z.Origin, keysFailedReason, keysFailed(z, ze)); err != nil {
			s.log.Error("withholding a zone whose key cannot be opened", "zone", zone, "err", err)
		}
	case err == nil:
		if _, held := s.withheld[z.Origin]; !held {
			return
		}
		delete(s.withheld, z.Origin)
		s.log.Info("zone's DNSSEC keys opened: serving it again", "zone", z.Origin)
		if err := zs.Release(z.Origin); err != nil {
			s.log.Error("serving a zone again after its keys opened", "zone", zone, "err", err)
		}
	}
}

// RetryZones implements dnssecRuntime: each withheld zone is added to the key manager again
// (one withheld after its start, for a key that could not be opened, has its keys opened
// again); one that starts is served (signed) from its file again, one that still fails stays
// withheld with the new error, for the reload to report.
func (s *signing) RetryZones(ctx context.Context, zs *server.ZoneSet) error {
	// Held throughout: two reloads at once (a SIGHUP, the admin API) must not add a zone twice.
	s.withheldMu.Lock()
	defer s.withheldMu.Unlock()
	pending := make([]zoneConfig, 0, len(s.withheld))
	for _, z := range s.withheld {
		pending = append(pending, z)
	}
	slices.SortFunc(pending, func(a, b zoneConfig) int { return strings.Compare(a.Origin, b.Origin) })
	var errs []error
	for _, z := range pending {
		err := s.mgr.Reopen(ctx, z.Origin)
		if keymgr.ErrorCode(err) == keymgr.CodeNoSuchHostedZone {
			err = s.addZone(ctx, s.c, zs, z)
		}
		switch ze := zoneOnly(err); {
		case ze != nil:
			errs = append(errs, zs.Hold(z.Origin, keysFailedReason, keysFailed(z, ze)))
		case err != nil:
			errs = append(errs, fmt.Errorf("zone %s: still withheld: %w", z.Origin, err))
		default:
			delete(s.withheld, z.Origin)
			s.log.Info("zone's DNSSEC keys started: serving it again", "zone", z.Origin)
			errs = append(errs, zs.Release(z.Origin))
		}
	}
	return errors.Join(errs...)
}

// serverWide checks what every zone's keys need, so that its failure stops the start with
// one clear error rather than withholding every zone: the passphrase opens the keystore,
// and the key and state directories can be written.
func serverWide(soft *file.Store, state string) error {
	if err := soft.CheckPassphrase(); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	for _, dir := range []string{soft.Dir(), filepath.Join(state, "zones")} {
		if err := writable(dir); err != nil {
			return fmt.Errorf("state: %w", err)
		}
	}
	return nil
}

// writable reports whether a file can be made in dir (created if missing).
func writable(dir string) error {
	if err := atomicfile.PrepareDir(dir); err != nil {
		return err
	}
	t, err := atomicfile.CreateTemp(dir, "write-check")
	if err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	t.Discard()
	return nil
}

// addZone adds one zone to the key manager.
func (s *signing) addZone(ctx context.Context, c *config, zs *server.ZoneSet, z zoneConfig) error {
	p, err := zonePolicy(c, z)
	if err != nil {
		return err
	}
	p.MaxZoneTTL = maxZoneTTL(zs, z.Origin)
	if err := s.mgr.AddZone(ctx, z.Origin, p); err != nil {
		return fmt.Errorf("zone %s: %w", z.Origin, err)
	}
	// Loaded before its signing state was known: reload with the TTL cap, when there is a
	// TTL over it (a big zone would otherwise be read twice at every start). A zone without
	// data (a file that failed to load, a secondary not transferred yet) has nothing to cap;
	// its next load applies the cap.
	if s.mgr.Signed(z.Origin) && zs.Available(z.Origin) && zs.Store().Get(dns.CanonicalName(z.Origin)).MaxTTL() > zones.MaxSignedTTL {
		return zs.ReloadZone(z.Origin)
	}
	return nil
}

// startWorkers is how many zones start at once. A zone's first start waits on six shared
// barriers (syncfs: two for each key, two for its state), and the more starts wait at once
// the more of them each barrier covers: with fsyncs, 1,000 new zones on 2 CPUs took 31 s one
// at a time, 11.5 s four at a time, 4.2 s with 16 and 1.8 s with 32 (2.4 CPU s against 6.0);
// with the barriers, 10,000 zones started in the same time with 32 and with 96 at once (7.2-8
// s). A restart is CPU work (decryption), for which any number above the CPUs' does.
func startWorkers() int { return min(16*runtime.GOMAXPROCS(0), 256) }

// startZones runs start for every zone, up to workers at once, and returns the error of the
// first zone in configuration order that failed, as starting them one by one would: once a
// zone fails no further zone is started, and every zone before it has been.
func startZones(zs []zoneConfig, workers int, start func(zoneConfig) error) error {
	errs := make([]error, len(zs))
	var failed atomic.Bool
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(workers, 1))
	for i, z := range zs {
		sem <- struct{}{}
		if failed.Load() {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if errs[i] = start(z); errs[i] != nil {
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	return firstError(errs)
}

// firstError returns the first non-nil error of errs, or nil.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ClusterReadiness implements dnssecRuntime.
func (s *signing) ClusterReadiness() *admin.ClusterReadiness {
	if s.cluster == nil || s.cluster.node == nil {
		return nil
	}
	n := s.cluster.node
	return &admin.ClusterReadiness{Instance: s.c.Cluster.Name, Leader: n.Leader(), Leading: n.Leading(), EtcdUp: n.EtcdUp()}
}

// ReloadCluster implements dnssecRuntime: a single server has nothing to reload.
func (s *signing) ReloadCluster(c *config) error {
	if s.cluster == nil {
		return nil
	}
	nc, err := decodeConfig(newViperFor(c.file), nil)
	if err != nil {
		return err
	}
	rcpts, err := nc.Cluster.recipients()
	if err != nil {
		return err
	}
	return s.cluster.reloadRecipients(rcpts)
}

// Cluster implements dnssecRuntime.
func (s *signing) Cluster() func(ctx context.Context) (any, error) {
	if s.cluster == nil {
		return nil
	}
	return s.cluster.status
}

func (s *signing) Keys() server.KeySource { return s.mgr }
func (s *signing) Signer() server.Signer  { return s.sig }
func (s *signing) API() admin.Manager     { return s.mgr }

// CanSign: a key ring is served, the zone is not INTERNAL_FAILURE, and the pre-made DNSKEY
// signatures (what validates the zone while a KSK cannot sign) have not run out.
func (s *signing) CanSign(origin string) (bool, string) {
	if why, held := s.mgr.Held(origin); held {
		return false, "not answered (SERVFAIL, EDE 14): " + why
	}
	if ring, _, ok := s.mgr.Signing(origin); !ok || ring == nil {
		return false, "no key ring: no active KSK and ZSK can sign yet"
	}
	for _, h := range s.mgr.Health(s.mgr.Now()) {
		if h.Zone != origin {
			continue
		}
		switch {
		case h.InternalFailure:
			return false, "DNSSEC status INTERNAL_FAILURE (signet dnssec status says why)"
		case h.PremadeExpiry <= 0:
			return false, "the KSK cannot sign and its pre-made DNSKEY signatures have run out"
		}
	}
	return true, ""
}

func (s *signing) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	if s.soft != nil {
		s.soft.Close()
	}
	if s.tpm != nil {
		s.tpm.Close()
	}
	if s.cluster != nil {
		s.cluster.close()
	}
}

// zonePolicy returns the key manager's policy for z: the global dnssec.* settings with z's
// overrides.
func zonePolicy(c *config, z zoneConfig) (keymgr.ZonePolicy, error) {
	st := c.settings(z)
	mode, err := parseDenial(st.Denial)
	if err != nil {
		return keymgr.ZonePolicy{}, fmt.Errorf("zone %s: denial: %w", z.Origin, err)
	}
	alg, err := parseAlgorithm(st.Algorithm)
	if err != nil {
		return keymgr.ZonePolicy{}, fmt.Errorf("zone %s: algorithm: %w", z.Origin, err)
	}
	_, route53, _ := parseZSKLifetime(st.ZSKLifetime)
	roll, err := st.rollover()
	if err != nil {
		return keymgr.ZonePolicy{}, fmt.Errorf("zone %s: %w", z.Origin, err)
	}
	if err := roll.WithDefaults().Validate(); err != nil {
		return keymgr.ZonePolicy{}, fmt.Errorf("zone %s rollover policy: %w", z.Origin, err)
	}
	return keymgr.ZonePolicy{
		Mode:               mode,
		Algorithm:          alg,
		QuickStart:         c.DNSSEC.Enabled,
		DNSKEYTTL:          time.Duration(st.DNSKEYTTL) * time.Second,
		CDS:                st.CDS,
		Parents:            z.Parents,
		Route53ZSKLifetime: route53,
		Rollover:           roll,
		Validity:           st.Validity,
		Refresh:            st.Refresh,
		// A strict start fails on a key that cannot be opened, so it opens them all.
		OpenKeys: c.Strict,
	}, nil
}

// maxZoneTTL reports the zone's current largest TTL (it changes on reload).
func maxZoneTTL(zs *server.ZoneSet, origin string) func() time.Duration {
	return func() time.Duration {
		z := zs.Store().Get(origin)
		if z == nil {
			return 0
		}
		// Negative answers are signed too: their NSEC and SOA signatures live min(SOA TTL,
		// MINIMUM), which MaxTTL already bounds; the SOA's own TTL is part of MaxTTL.
		return time.Duration(z.MaxTTL()) * time.Second
	}
}

// passphrase finds the software keystore's passphrase: a file or an environment variable
// named in the config, never the config itself. With neither (the quick start), a random one
// is made in a 0600 file beside the keys, with a warning that this protects nothing on a
// stolen disk.
func passphrase(c *config, log *slog.Logger) (pass []byte, random bool, err error) {
	switch {
	case c.Keystore.PassphraseFile != "":
		p, err := file.PassphraseFromFile(c.Keystore.PassphraseFile)
		if err != nil {
			return nil, false, fmt.Errorf("keystore.passphrase_file: %w", err)
		}
		return p, false, nil
	case c.Keystore.PassphraseEnv != "":
		p, err := file.PassphraseFromEnv(c.Keystore.PassphraseEnv)
		if err != nil {
			return nil, false, fmt.Errorf("keystore.passphrase_env: %w", err)
		}
		return p, false, nil
	}
	path := filepath.Join(c.State, "keystore.passphrase")
	if _, err := os.Stat(path); err == nil {
		p, err := file.PassphraseFromFile(path)
		return p, true, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, err
	}
	p := []byte(base64.RawURLEncoding.EncodeToString(raw))
	if err := os.WriteFile(path, append(p, '\n'), 0o600); err != nil {
		return nil, false, fmt.Errorf("quick start passphrase: %w", err)
	}
	log.Warn("quick start: generated a random keystore passphrase beside the keys; it does not protect them on a stolen disk (set keystore.passphrase_file)", "file", path)
	return p, true, nil
}

// ensurePrivateDir creates dir 0700, or tightens an existing one to 0700.
func ensurePrivateDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("no state directory (--state)")
	}
	return atomicfile.PrepareDir(dir)
}
