package keymgr

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/statestore"
)

// Premade signature defaults: Route 53 keeps 15 DNSKEY signatures made ahead; with windows a
// day apart and the default 7-day validity they keep the zone valid for 21 days without the
// KSK.
const (
	// PremadeCount is how many pre-made signatures per KSK-signed RRset and KSK are kept.
	PremadeCount = 15
	// PremadeStep is the spacing of their validity windows, and how often they are re-made.
	PremadeStep = 24 * time.Hour
	// RetryMin is the default first interval (Config.KSKRetryMin) between attempts to reach a
	// failing KSK; the interval doubles after each failed attempt up to RetryMax.
	RetryMin = time.Minute
	RetryMax = 15 * time.Minute
	// DefaultKSKCheckInterval is how often, by default (Config.KSKCheckInterval), every
	// active KSK's signer is checked, so that a KSK that cannot sign turns ACTION_NEEDED
	// within minutes rather than at the next daily refresh of its pre-made signatures.
	DefaultKSKCheckInterval = time.Minute
	// MaxKSKs is Route 53's limit of key-signing keys per zone.
	MaxKSKs = 2
	// QuickStartName names the KSK the quick start creates.
	QuickStartName = "quickstart"
	// DefaultDNSKEYTTL is the DNSKEY RRset TTL when the policy gives none.
	DefaultDNSKEYTTL = time.Hour
	// DefaultAlgorithm is the algorithm of new keys when the policy gives none: 13,
	// ECDSAP256SHA256, the one Route 53 uses (RFC 8624 recommends it).
	DefaultAlgorithm = keystore.ECDSAP256SHA256
)

// Config is what the key manager needs from its host.
type Config struct {
	// State keeps each zone's key state and pre-made KSK signatures (statestore/file for a
	// single server). Required.
	State statestore.Store
	// Local, when set, keeps a copy of the state and pre-made signatures of each ring this
	// instance serves (a cluster member's state directory), read when State does not answer,
	// so that a restart during an outage of a shared State still serves the last ring.
	Local statestore.Store
	// Parent asks a zone's parent name servers (ZonePolicy.Parents) for its DS RRset; nil
	// means DNSParent, queries over the network.
	Parent ParentDS
	// Soft holds the ZSKs, and the KSKs when TPM is nil.
	Soft keystore.Store
	// TPM, when set, holds the KSKs.
	TPM keystore.Store
	// LocalKSK, when set and TPM is not, holds the KSKs: in a cluster, Soft is the shared
	// store (the ZSKs every instance signs with) and a KSK stays in its leader's own store.
	LocalKSK keystore.Store
	// Signer is the signature timing; pre-made KSK signatures use it too.
	Signer signer.Config
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the manager's logs; nil discards them.
	Logger *slog.Logger
	// KSKCheckInterval is how often each active KSK's signer is checked between refreshes of
	// the pre-made signatures (the store's Check when it has one, else a test signature);
	// a KSK that fails turns ACTION_NEEDED while the served ring keeps its pre-made
	// signatures. 0 means DefaultKSKCheckInterval; a negative value disables the check.
	KSKCheckInterval time.Duration
	// ObserveSign, when set, is told the keystore ("soft", "tpm", ...), algorithm and
	// duration of every signature a key of the zones makes (the online signer's ZSK
	// signatures and the pre-made KSK signatures), for the metrics. It must be quick and
	// safe for concurrent use.
	ObserveSign func(store string, algorithm uint8, took time.Duration)
	// KSKRetryMin is the first interval between attempts to reach a failing KSK, doubled
	// after each failure up to RetryMax (or KSKRetryMin if larger); 0 means RetryMin.
	KSKRetryMin time.Duration
	// DeferPremade makes a zone's start (its quick start, or a start that cannot reuse the
	// pre-made signatures an earlier process saved) sign only the first of the PremadeCount
	// validity windows, enough to answer at once, and save none: Run then makes the whole
	// set and saves it, a few zones at a time (fillRate), once the zones have started. A
	// server starting ten thousand zones would otherwise make and write 150,000 signatures
	// before answering. Until then a KSK outage is covered for the first window's validity
	// (Signer.Validity, a week by default) instead of two weeks more. A cluster member does
	// not set it: the other members serve the signatures the leader saves.
	DeferPremade bool
}

// ZonePolicy is one zone's signing configuration.
type ZonePolicy struct {
	// Mode is the denial-of-existence mode the zone is signed with.
	Mode signer.Mode
	// Algorithm is the DNSSEC algorithm of new keys; 0 means DefaultAlgorithm.
	Algorithm uint8
	// QuickStart (--dnssec) creates and activates a KSK named "quickstart" and a ZSK, and
	// enables signing, when the zone has no state yet.
	QuickStart bool
	// DNSKEYTTL is the TTL of the DNSKEY, CDS and CDNSKEY RRsets; 0 means one hour.
	DNSKEYTTL time.Duration
	// CDS publishes CDS and CDNSKEY records (RFC 7344) for the active KSKs at all times, not
	// only during a KSK rollover.
	CDS bool
	// Rollover is the ZSK rotation and KSK rollover policy (the rollover package): lifetimes,
	// `ksk-rollover: automatic` (KSKAutomatic), the parent's DS TTL, the DS wait limit and
	// the propagation delay. Its DNSKEYTTL and MaxZoneTTL are ignored: DNSKEYTTL and
	// MaxZoneTTL below give them.
	Rollover rollover.Policy
	// Route53ZSKLifetime is the `route53` preset: the zone's ZSK lifetime is drawn once, at
	// random between 7 and 30 days (rollover.Route53ZSKLifetime), and kept in its state.
	// It overrides Rollover.ZSKLifetime.
	Route53ZSKLifetime bool
	// Parents are the parent zone's name servers (host:port), queried for the zone's DS
	// RRset before disabling or deactivating, and during an automatic KSK rollover until the
	// new DS is at every one of them and the old one at none (like Knot's `submission` and
	// BIND's `parental-agents`). Empty: no check; an automatic KSK rollover then waits for
	// an operator's ConfirmDS (`signet ksk ds-seen`).
	Parents []string
	// Validity and Refresh, when positive, replace Config.Signer's signature validity and
	// refresh for this zone (signer.RingOptions).
	Validity, Refresh time.Duration
	// MaxZoneTTL returns the largest TTL in the zone now (it changes on reload); rollover
	// timings wait that long for old signatures to expire (RFC 7583 §3.3.1). nil: one day.
	MaxZoneTTL func() time.Duration
	// OpenKeys makes AddZone open every key of the zone's ring (decrypt its file) before
	// it returns, so that a key that cannot be opened fails the start (a *ZoneError): a
	// fail-fast start. Without it a start that reuses the saved pre-made signatures opens
	// none, each key opening at its first signature (see OnKeyFailure).
	OpenKeys bool
}

// Manager holds the DNSSEC state of every zone and runs the key lifecycle. It is safe for
// concurrent use; operations on one zone are serialised.
type Manager struct {
	// gen changes whenever any zone's served ring changes, so that the server's packet
	// cache can tell a response made with an older ring (server.KeySource).
	gen atomic.Uint64

	cfg Config
	log *slog.Logger
	// zones maps a zone's name to its *zone. A sync.Map rather than a map copied on write:
	// Signing reads it lock-free on every query, and a copy at every AddZone would make
	// adding n zones cost n².
	zones sync.Map
	// addMu guards adding: the zones being started by AddZone, so that one name is added
	// once while different zones start concurrently.
	addMu  sync.Mutex
	adding map[string]bool
	wake   chan struct{}

	cbMu      sync.Mutex
	callbacks []func(zone string)
	keyCbs    []func(zone string, err error)

	// leader is the name of the instance this one follows; nil while this one leads (a
	// single server always does).
	leader atomic.Pointer[string]
	// waiter, when set, tells the leader when a ring change is served everywhere (WaitFor).
	waiter atomic.Pointer[SyncWaiter]
	// holds counts the zones held (Hold), so that Held costs a single server, which never
	// holds one, no lookup on the query path.
	holds atomic.Int64

	// fillMu guards fillQ, the zones whose pre-made signatures Run is to complete
	// (DeferPremade); fillWake tells it there are some.
	fillMu   sync.Mutex
	fillQ    []*zone
	fillWake chan struct{}
	// failedStarts holds the names of the zones whose last start failed, so that the next
	// one first deletes keys that start made and could not delete.
	failedStarts sync.Map
	// unreadable is, by keystore, how many entries the last listing of every zone could
	// not read (listAll), for the metrics.
	unreadableMu sync.Mutex
	unreadable   map[string]int
}

// served is what the query path reads: the ring and the denial mode.
type served struct {
	ring *signer.KeyRing
	mode signer.Mode
}

// zone is one zone's runtime.
type zone struct {
	name   string
	policy ZonePolicy
	gen    *atomic.Uint64 // the Manager's generation, bumped by install

	mu sync.Mutex // serialises operations and the loop's work on this zone
	st *zoneState // guarded by mu; nil until the zone has DNSSEC resources

	cur    atomic.Pointer[served] // nil when the zone is not signed
	shown  atomic.Pointer[view]   // the last view published for Health (publish)
	signed atomic.Bool            // st.Signing, readable without mu
	// actions counts the rollover actions carried out, by rollover.ActionKind, for the
	// metrics (read without mu).
	actions [8]atomic.Uint64

	// Guarded by mu.
	premadeAt time.Time     // when the current ring's pre-made signatures were made
	checkAt   time.Time     // next health check of the active KSKs (zero: at once)
	retryAt   time.Time     // next attempt to reach a failing KSK (zero: none pending)
	backoff   time.Duration // current retry interval
	failure   string        // zone-level internal failure, "" when none
	signers   map[string]crypto.Signer
	// stateRev and premadeRev are the revisions of the zone's documents in the state store
	// as last read or written: a save succeeds only over them.
	stateRev, premadeRev statestore.Revision
	// startPremade is the pre-made signature document AddZone read (nil: none), which
	// loadPremade decodes instead of reading it again; AddZone drops it once started.
	startPremade []byte
	// orphans: the zone started from a saved state; the loop's next step deletes the keys
	// no state names (dropOrphans).
	// Atomic: a step reads every zone's without its lock (orphansDue).
	orphans atomic.Bool
	// prove: the served ring was built, at a start, from saved pre-made signatures without
	// any KSK signing; the loop's next step proves that each active KSK still signs.
	prove bool
	// openErr is a lazy ZSK's failure to open (openFailed), for the loop to record.
	openErr atomic.Pointer[openFailure]
	// keysFailed: a ZSK of the served ring could not be opened (openFailures) and no ring
	// with its keys open has replaced it since. keyNote is the OnKeyFailure call to make
	// once z.mu is released (keyNoted set): the failure, or nil when it is over.
	keysFailed bool
	keyNoted   bool
	keyNote    error
	// unbuilt: a follower could not build the ring of the state at stateRev (a key it
	// cannot decrypt yet, pre-made signatures not there yet), so the next Sync tries again
	// even though the revisions did not change.
	unbuilt bool

	// ringID names the ring served (ringID), served what Served reports, and pending the
	// leader's ring change not yet known to be served by every instance (see awaitSync).
	ringID  string
	served  Served
	pending *ringChange

	// held, when set, says why this instance must not answer for the zone (Hold).
	held atomic.Pointer[string]

	// starting is set (guarded by mu) while AddZone starts the zone, and partial while the
	// served ring has only the first window of its pre-made signatures (DeferPremade).
	starting, partial bool
}

// New returns a Manager. The zones are added with AddZone.
func New(cfg Config) (*Manager, error) {
	if cfg.Soft == nil {
		return nil, errors.New("keymgr: Config.Soft is nil")
	}
	if cfg.State == nil {
		return nil, errors.New("keymgr: Config.State is nil")
	}
	if cfg.Parent == nil {
		cfg.Parent = DNSParent{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.KSKCheckInterval == 0 {
		cfg.KSKCheckInterval = DefaultKSKCheckInterval
	}
	if cfg.KSKRetryMin <= 0 {
		cfg.KSKRetryMin = RetryMin
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, log: log.With("component", "keymgr"), wake: make(chan struct{}, 1), fillWake: make(chan struct{}, 1)}
	return m, nil
}

// canonical returns the lowercase fully qualified form of a zone name.
func canonical(name string) string { return dns.CanonicalName(dns.Fqdn(name)) }

// AddZone starts managing origin with policy p: it loads the zone's state, applies the
// quick start if asked and the zone has none, and builds the zone's ring when it is signed.
// A KSK that cannot sign now does not make AddZone fail: the zone starts ACTION_NEEDED,
// served with the pre-made signatures an earlier run saved while they are valid and match
// its keys, else unsigned until the KSK answers. Different zones may be added concurrently
// (a server starting thousands of zones does): each zone's start reads and writes only its
// own documents and keys. A failure of this zone alone (its documents or keys unreadable,
// no ring to serve) is a *ZoneError; the zone is then not added, and may be added again.
func (m *Manager) AddZone(ctx context.Context, origin string, p ZonePolicy) error {
	name := canonical(origin)
	if _, ok := dns.IsDomainName(name); !ok {
		return fmt.Errorf("keymgr: %q is not a domain name", origin)
	}
	if p.Algorithm == 0 {
		p.Algorithm = DefaultAlgorithm
	}
	if p.DNSKEYTTL <= 0 {
		p.DNSKEYTTL = p.Rollover.DNSKEYTTL
	}
	if p.DNSKEYTTL <= 0 {
		p.DNSKEYTTL = DefaultDNSKEYTTL
	}
	if p.DNSKEYTTL < time.Second {
		return fmt.Errorf("keymgr: zone %s: DNSKEY TTL %v is below one second", name, p.DNSKEYTTL)
	}
	p.Rollover.DNSKEYTTL = p.DNSKEYTTL
	if err := p.Rollover.Validate(); err != nil {
		return fmt.Errorf("keymgr: zone %s: %w", name, err)
	}
	m.addMu.Lock()
	if _, ok := m.lookup(name); ok || m.adding[name] {
		m.addMu.Unlock()
		return fmt.Errorf("keymgr: zone %s added twice", name)
	}
	if m.adding == nil {
		m.adding = map[string]bool{}
	}
	m.adding[name] = true
	m.addMu.Unlock()
	defer func() {
		m.addMu.Lock()
		delete(m.adding, name)
		m.addMu.Unlock()
	}()
	st, rev, err := m.loadState(ctx, name)
	if err != nil {
		return zoneOnly(ctx, name, err)
	}
	// Read once here for its revision, and kept for the start to decode.
	premade, premadeRev, err := m.load(ctx, name, statestore.Premade)
	if err != nil && !errors.Is(err, statestore.ErrNotFound) {
		return zoneOnly(ctx, name, fmt.Errorf("keymgr: read pre-made signatures: %w", err))
	}
	z := &zone{name: name, policy: p, st: st, signers: map[string]crypto.Signer{}, gen: &m.gen,
		stateRev: rev, premadeRev: premadeRev, startPremade: premade}
	z.mu.Lock()
	if _, following := m.Following(); following {
		st, rev := z.st, z.stateRev
		z.st, z.stateRev = nil, 0
		m.follow(ctx, z, st, rev, m.cfg.Now())
	} else if err := m.startNow(ctx, z); err != nil {
		z.mu.Unlock()
		m.failedStarts.Store(name, true)
		return zoneOnly(ctx, name, err)
	}
	z.startPremade = nil
	z.mu.Unlock()
	m.zones.Store(name, z)
	m.gen.Add(1)
	z.publish()
	m.poke()
	return nil
}

// startNow runs start at the Manager's now, marked as a start (windows).
func (m *Manager) startNow(ctx context.Context, z *zone) error {
	z.starting = true
	defer func() { z.starting = false }()
	return m.start(ctx, z, m.cfg.Now())
}

// start readies a zone its leader adds: its loaded state (prepare), or the quick start
// when it has none and the policy asks for it, and its ring when it is signed.
func (m *Manager) start(ctx context.Context, z *zone, now time.Time) error {
	if z.st != nil {
		if err := m.prepare(ctx, z, now); err != nil {
			return fmt.Errorf("keymgr: zone %s: %w", z.name, err)
		}
	}
	if z.st == nil && z.policy.QuickStart {
		if _, again := m.failedStarts.LoadAndDelete(z.name); again {
			// Keys of the failed start whose deletion failed too: no state names them.
			// (Left by an earlier process, they go at the loop's first step after the
			// first start with a state: prepare. Listing the keystore for every new zone
			// would cost a cluster's shared store a read of every key per zone.)
			m.dropOrphans(ctx, z, nil)
		}
		if err := m.quickStart(ctx, z, now); err != nil {
			return fmt.Errorf("keymgr: quick start %s: %w", z.name, err)
		}
	} else if z.st != nil && z.st.Signing {
		z.signed.Store(true)
		if !m.reuse(ctx, z, now) {
			m.refresh(ctx, z, now)
		}
		if z.cur.Load() == nil && z.failure != "" {
			// No ring, and not for a KSK that cannot sign (which serves its pre-made
			// signatures): a key cannot be read. Answers without signatures would be bogus
			// where the parent has a DS, so the zone does not start.
			return fmt.Errorf("keymgr: no key ring: %s", z.failure)
		}
	}
	return nil
}

// prepare readies a loaded state: it has the loop's next step delete the keystore keys no
// state names (left by a crash between creating a key and saving the state: listing a
// zone's keys reads the whole key directory once, or a cluster's whole shared store each
// time, which a start of thousands of zones need not wait for), records missing public
// keys, draws the route53 preset's ZSK lifetime once, and saves the state if it changed.
func (m *Manager) prepare(ctx context.Context, z *zone, now time.Time) error {
	z.orphans.Store(true)
	next := z.st.clone()
	changed := false
	// A key recorded before public keys were: record it now, so that followers can publish
	// it; a key that cannot be opened now is left for the next start.
	for _, r := range next.keys() {
		if len(r.PublicKey) == 0 && m.fillPublic(ctx, z, r) == nil {
			changed = true
		}
	}
	if z.policy.Route53ZSKLifetime && next.ZSKLifetime == 0 {
		next.ZSKLifetime, changed = rollover.Route53ZSKLifetime(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))), true
	}
	if !z.policy.Route53ZSKLifetime && next.ZSKLifetime != 0 {
		next.ZSKLifetime, changed = 0, true
	}
	if !changed {
		return nil
	}
	return m.persist(ctx, z, next, now)
}

// quickStart creates and activates a KSK named "quickstart", a ZSK, and enables signing.
func (m *Manager) quickStart(ctx context.Context, z *zone, now time.Time) error {
	st := z.edit()
	if z.policy.Route53ZSKLifetime {
		st.ZSKLifetime = rollover.Route53ZSKLifetime(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	}
	created, err := m.addKSK(ctx, z, st, QuickStartName, StatusActive, now)
	if err != nil {
		return err
	}
	st.Signing = true
	if err := m.commit(ctx, z, st, now); err != nil {
		m.dropKeys(created)
		return err
	}
	m.log.Info("quick start: KSK and ZSK created, signing enabled", "zone", z.name)
	return nil
}

// lookup returns the zone named name (canonical), without a lock.
func (m *Manager) lookup(name string) (*zone, bool) {
	z, ok := m.zones.Load(name)
	if !ok {
		return nil, false
	}
	return z.(*zone), true
}

// all returns the zones the Manager holds, in no particular order.
func (m *Manager) all() []*zone {
	var out []*zone
	m.zones.Range(func(_, z any) bool {
		out = append(out, z.(*zone))
		return true
	})
	return out
}

// zone returns the named zone or NoSuchHostedZone.
func (m *Manager) zone(name string) (*zone, error) {
	z, ok := m.lookup(canonical(name))
	if !ok {
		return nil, errorf(CodeNoSuchHostedZone, "no zone %s is served", canonical(name))
	}
	return z, nil
}

// Signing returns the zone's current ring and denial mode; ok is false when the zone is not
// signed. It takes no lock: it runs on every query.
func (m *Manager) Signing(name string) (*signer.KeyRing, signer.Mode, bool) {
	z, ok := m.lookup(name)
	if !ok {
		return nil, 0, false
	}
	s := z.cur.Load()
	if s == nil {
		return nil, 0, false
	}
	return s.ring, s.mode, true
}

// Generation changes whenever the ring or mode Signing returns for any zone changes.
func (m *Manager) Generation() uint64 { return m.gen.Load() }

// Signed reports whether signing is enabled for the zone (Route 53's SIGNING, or a signing
// zone whose KSK needs action), so the server caps TTLs at one week while loading it.
func (m *Manager) Signed(name string) bool {
	z, ok := m.lookup(canonical(name))
	return ok && z.signed.Load()
}

// OnChange registers f, called (outside any lock) with the zone's name after its signing
// state flips between signed and unsigned.
func (m *Manager) OnChange(f func(zone string)) {
	m.cbMu.Lock()
	defer m.cbMu.Unlock()
	m.callbacks = append(m.callbacks, f)
}

// OnKeyFailure registers f, called (outside any lock) with the zone's name and a *ZoneError
// when a key of the zone's served ring, opened at its first signature, could not be opened
// (the zone's answers that need it fail), and with a nil error once a ring with its keys open
// serves the zone again (the zone's retry, or Reopen).
func (m *Manager) OnKeyFailure(f func(zone string, err error)) {
	m.cbMu.Lock()
	defer m.cbMu.Unlock()
	m.keyCbs = append(m.keyCbs, f)
}

// takeKeyNote returns the OnKeyFailure call z has pending, if any; call with z.mu held.
func (z *zone) takeKeyNote() (err error, ok bool) {
	err, ok = z.keyNote, z.keyNoted
	z.keyNote, z.keyNoted = nil, false
	return err, ok
}

// keysChanged calls the OnKeyFailure callbacks.
func (m *Manager) keysChanged(zone string, err error) {
	m.cbMu.Lock()
	cbs := slices.Clone(m.keyCbs)
	m.cbMu.Unlock()
	for _, f := range cbs {
		f(zone, err)
	}
}

func (m *Manager) changed(zone string) {
	m.cbMu.Lock()
	cbs := append([]func(string){}, m.callbacks...)
	m.cbMu.Unlock()
	for _, f := range cbs {
		f(zone)
	}
}

// poke wakes the loop so it recomputes its next deadline.
func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Names of the two stores in keyRec.Store.
const (
	storeTPM   = "tpm"
	storeLocal = "local"
	storeSoft  = "soft"
)

// storeFor returns where a new key of role goes: KSKs in the TPM when there is one, else in
// the local store when there is one (a cluster's, so that KSKs stay out of the shared store).
func (m *Manager) storeFor(role keystore.Role) (keystore.Store, string) {
	switch {
	case role == keystore.KSK && m.cfg.TPM != nil:
		return m.cfg.TPM, storeTPM
	case role == keystore.KSK && m.cfg.LocalKSK != nil:
		return m.cfg.LocalKSK, storeLocal
	}
	return m.cfg.Soft, storeSoft
}

// storeOf returns the store that holds rec.
func (m *Manager) storeOf(rec *keyRec) (keystore.Store, error) {
	switch rec.Store {
	case storeSoft:
		return m.cfg.Soft, nil
	case storeTPM:
		if m.cfg.TPM == nil {
			return nil, fmt.Errorf("key %s is in the TPM, and no TPM is configured", rec.ID)
		}
		return m.cfg.TPM, nil
	case storeLocal:
		if m.cfg.LocalKSK == nil {
			return nil, fmt.Errorf("key %s is in a local keystore, and none is configured", rec.ID)
		}
		return m.cfg.LocalKSK, nil
	}
	return nil, fmt.Errorf("key %s: unknown store %q", rec.ID, rec.Store)
}

func (z *zone) dnskeyTTL() uint32 { return uint32(z.policy.DNSKEYTTL / time.Second) }

func (z *zone) maxZoneTTL() time.Duration {
	if z.policy.MaxZoneTTL != nil {
		if d := z.policy.MaxZoneTTL(); d > 0 {
			return d
		}
	}
	return 24 * time.Hour
}
