package keymgr

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/rollover/rollovertest"
	"github.com/signetdns/signet/signer"
)

const day = 24 * time.Hour

// fakeParent is the parent zone's name servers, given to the Manager as its ParentDS: it
// answers the zone's DS RRset for the one server name it plays. It acts on the zone's CDS
// like a registry scanning for it (RFC 7344 §6.1): once the child has published a CDS RRset
// different from the DS RRset for delay, the parent's DS RRset becomes that CDS RRset.
type fakeParent struct {
	addr  string
	delay time.Duration

	mu      sync.Mutex
	ds      []*dns.DS
	cds     []*dns.DS // the CDS RRset last scanned
	cdsFrom time.Time // since when
}

var _ ParentDS = (*fakeParent)(nil)

func newParent(delay time.Duration) *fakeParent {
	return &fakeParent{addr: "ns.parent.test:53", delay: delay}
}

// use is the fixture option that gives the Manager this parent.
func (p *fakeParent) use(c *Config) { c.Parent = p }

// QueryDS implements ParentDS for the server p plays.
func (p *fakeParent) QueryDS(ctx context.Context, server, zone string) ([]*dns.DS, error) {
	if server != p.addr {
		return nil, fmt.Errorf("no server %s", server)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []*dns.DS
	if strings.EqualFold(zone, testZone) {
		p.mu.Lock()
		for _, ds := range p.ds {
			out = append(out, dns.Copy(ds).(*dns.DS))
		}
		p.mu.Unlock()
	}
	return out, nil
}

func (p *fakeParent) set(ds []*dns.DS) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ds = ds
}

func (p *fakeParent) digests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, d := range p.ds {
		out = append(out, strings.ToUpper(d.Digest))
	}
	return out
}

// scan looks at the CDS RRset the child serves at now and returns when the parent will next
// change its DS RRset (zero: no change pending).
func (p *fakeParent) scan(ring *signer.KeyRing, now time.Time) time.Time {
	var cds []*dns.DS
	for _, rr := range ring.CDS() {
		c := rr.(*dns.CDS)
		if c.Algorithm == 0 {
			continue // delete sentinel
		}
		ds := &dns.DS{Hdr: dns.RR_Header{Name: testZone, Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: 86400},
			KeyTag: c.KeyTag, Algorithm: c.Algorithm, DigestType: c.DigestType, Digest: c.Digest}
		cds = append(cds, ds)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	same := func(a, b []*dns.DS) bool {
		return slices.EqualFunc(a, b, func(x, y *dns.DS) bool { return strings.EqualFold(x.Digest, y.Digest) })
	}
	if len(cds) == 0 || same(cds, p.ds) {
		p.cds, p.cdsFrom = nil, time.Time{}
		return time.Time{}
	}
	if !same(cds, p.cds) {
		p.cds, p.cdsFrom = cds, now
	}
	at := p.cdsFrom.Add(p.delay)
	if !now.Before(at) {
		p.ds, p.cds, p.cdsFrom = cds, nil, time.Time{}
		return time.Time{}
	}
	return at
}

// snapshot is what the ring serves, for the resolver cache model: keys named by the digest
// of their DS (so a parent DS names the same key).
func snapshot(ring *signer.KeyRing, ds []string, now time.Time) rollovertest.Snapshot {
	s := rollovertest.Snapshot{At: now, Up: true, DS: slices.Sorted(slices.Values(ds)), Algorithms: map[string]uint8{}}
	for _, k := range ring.Keys() {
		id := strings.ToUpper(signer.DS(k.DNSKEY).Digest)
		s.Algorithms[id] = k.DNSKEY.Algorithm
		if !k.Unpublished {
			s.DNSKEY = append(s.DNSKEY, id)
		}
		if !k.Active {
			continue
		}
		if k.KSK {
			s.DNSKEYSigners = append(s.DNSKEYSigners, id)
		} else {
			s.DataSigners = append(s.DataSigners, id)
		}
	}
	slices.Sort(s.DNSKEY)
	slices.Sort(s.DNSKEYSigners)
	slices.Sort(s.DataSigners)
	return s
}

// verifyAll checks every signature the ring makes at at: the DNSKEY RRset, the CDS and
// CDNSKEY RRsets when published, and zone data.
func verifyAll(t *testing.T, ring *signer.KeyRing, at time.Time) {
	t.Helper()
	verifyRing(t, ring, at)
	soa := mustRR(t, testZone+" 3600 IN SOA ns. host. 1 3600 600 86400 300").(*dns.SOA)
	for _, typ := range []uint16{dns.TypeCDS, dns.TypeCDNSKEY} {
		set := ring.RRset(typ)
		if len(set) == 0 {
			continue
		}
		m := new(dns.Msg)
		m.SetQuestion(testZone, typ)
		m.Answer = append(m.Answer, set...)
		in := &signer.Input{Zone: testZone, Kind: signer.Answer, QName: testZone, QType: typ, Name: testZone, SOA: soa, DO: true}
		if err := signer.New(signer.Config{}).Sign(m, in, ring, at); err != nil {
			t.Fatalf("sign %s at %s: %v", dns.TypeToString[typ], at, err)
		}
		verifyAnswer(t, m, ring, at, typ)
	}
}

// autoPolicy is the policy of the long-run tests: ZSK every 30 days, KSK every year,
// automatic, parent DS TTL one day.
func autoPolicy(parents ...string) ZonePolicy {
	return ZonePolicy{
		QuickStart: true,
		Parents:    parents,
		MaxZoneTTL: func() time.Duration { return day },
		Rollover: rollover.Policy{
			ZSKLifetime:  30 * day,
			KSKAutomatic: true,
			KSKLifetime:  365 * day,
			ParentDSTTL:  day,
		},
	}
}

// driver runs a Manager against an injected clock, the fake parent and the cache model.
type driver struct {
	t       *testing.T
	f       *fixture
	parent  *fakeParent
	policy  ZonePolicy
	checker *rollovertest.Checker
	now     time.Time
	ring    *signer.KeyRing
	rings   int
	steps   int
	zsks    map[string]bool // ZSK IDs seen in the keystore
	ksks    map[string]bool
	maxNeed int // largest count of KSKs needing action seen
	// crash, when set, drops the Manager after every step without closing it and starts a
	// new one on the same state directory and keystores, as kill -9 and a restart would.
	crash    bool
	restarts int
}

// restart replaces the Manager by a new one on the same state directory and stores (the old
// one is dropped as is: nothing of it is closed or flushed) and observes the ring it serves.
func (d *driver) restart() {
	t := d.t
	var opts []func(*Config)
	if d.parent != nil {
		opts = append(opts, d.parent.use)
	}
	d.f = newFixture(t, d.f.dir, d.f.soft, d.f.tpm, d.f.clk, opts...)
	if err := d.f.m.AddZone(context.Background(), testZone, d.policy); err != nil {
		t.Fatalf("restart at %s: %v", d.now, err)
	}
	d.restarts++
	d.observe()
}

// observe checks the ring served at d.now and feeds it to the cache model.
func (d *driver) observe() {
	d.checker.Observe(snapshot(d.serving(), d.parentDS(), d.now))
}

// serving returns the ring served at d.now, verifying each ring the first time it is served.
func (d *driver) serving() *signer.KeyRing {
	ring, _, ok := d.f.m.Signing(testZone)
	if !ok {
		d.t.Fatalf("unsigned at %s", d.now)
	}
	if ring != d.ring {
		d.ring = ring
		d.rings++
		verifyAll(d.t, ring, d.now)
	}
	return ring
}

// parentDS returns the digests of the parent's DS RRset, none without a parent.
func (d *driver) parentDS() []string {
	if d.parent == nil {
		return nil
	}
	return d.parent.digests()
}

// outage stops the zone's servers from d.now until until (nothing is served; the parent
// still answers), then restarts the Manager.
func (d *driver) outage(until time.Time) {
	d.checker.Observe(rollovertest.Snapshot{At: d.now, Up: false, DS: d.parentDS()})
	d.now = until
	d.f.clk.set(until)
	d.restart()
}

func newDriver(t *testing.T, f *fixture, parent *fakeParent, p ZonePolicy) *driver {
	pol := p.Rollover.WithDefaults()
	d := &driver{t: t, f: f, parent: parent, policy: p, now: f.clk.now(),
		checker: rollovertest.New(p.DNSKEYTTL+DefaultDNSKEYTTL*time.Duration(b2i(p.DNSKEYTTL == 0)), p.MaxZoneTTL(), pol.ParentDSTTL),
		zsks:    map[string]bool{}, ksks: map[string]bool{}}
	if parent != nil {
		// The parent starts with the quick-start KSK's DS, as the operator would set it.
		ring, _, ok := f.m.Signing(testZone)
		if !ok {
			t.Fatal("zone not signed")
		}
		for _, k := range ring.Keys() {
			if k.KSK {
				ds := signer.DS(k.DNSKEY)
				ds.Hdr.Ttl = uint32(pol.ParentDSTTL / time.Second)
				parent.set([]*dns.DS{ds})
			}
		}
	}
	return d
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// run steps the manager until end, observing every ring it serves.
func (d *driver) run(end time.Time) {
	t := d.t
	ctx := context.Background()
	for d.now.Before(end) {
		d.steps++
		if d.steps > 200000 {
			t.Fatal("the loop does not advance")
		}
		d.f.clk.set(d.now)
		next := d.f.m.Step(ctx, d.now)
		if !next.After(d.now) {
			t.Fatalf("Step at %s asks to run again at %s", d.now, next)
		}
		ring := d.serving()
		if d.parent != nil {
			if at := d.parent.scan(ring, d.now); !at.IsZero() && at.Before(next) {
				next = at
			}
		}
		d.checker.Observe(snapshot(ring, d.parentDS(), d.now))
		for id := range zskIDs(t, d.f.soft) {
			d.zsks[id] = true
		}
		metas, _ := d.f.tpm.List(ctx, testZone)
		for _, m := range metas {
			d.ksks[m.ID] = true
		}
		d.maxNeed = max(d.maxNeed, d.needing())
		if d.crash {
			d.restart()
		}
		d.now = next
	}
}

func (d *driver) needing() int {
	return healthAt(d.f.m, d.now).KSKsNeedingAction
}

func (d *driver) violations() {
	d.t.Helper()
	if n := d.checker.Count(); n != 0 {
		for _, v := range d.checker.Violations() {
			d.t.Error(v)
		}
		d.t.Fatalf("%d violations of RFC 7583 conditions over %d snapshots", n, d.checker.Observed())
	}
}

// TestTwoYears drives a zone through two years and ten days (so that the second KSK
// rollover, due a year after the first one ended, completes): ZSK every 30 days, KSK every 365 days with
// automatic double-KSK rollovers, a parent on loopback that follows the CDS after 3 days.
// Every ring served validates, and no combination a resolver may cache is bogus.
func TestTwoYears(t *testing.T) {
	parent := newParent(3 * day)
	f := setup(t, autoPolicy(parent.addr), parent.use)
	d := newDriver(t, f, parent, autoPolicy(parent.addr))
	d.run(t0.Add(740 * day))
	d.violations()
	// 740 days: the first ZSK plus a successor every 30 days; the quick-start KSK plus 2.
	if n := len(d.zsks); n < 24 || n > 26 {
		t.Errorf("%d ZSKs over two years, want 25±1", n)
	}
	if n := len(d.ksks); n != 3 {
		t.Errorf("%d KSKs over two years, want 3", n)
	}
	if n := len(zskIDs(t, f.soft)); n > 2 {
		t.Errorf("%d ZSKs left in the keystore", n)
	}
	if metas, _ := f.tpm.List(context.Background(), testZone); len(metas) > 2 {
		t.Errorf("%d KSKs left in the keystore", len(metas))
	}
	if d.maxNeed != 0 {
		t.Errorf("a KSK was ACTION_NEEDED although the parent followed the CDS in 3 days")
	}
	// The parent's DS names the current KSK.
	got, err := f.m.GetDNSSEC(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}
	var active []KeySigningKey
	for _, k := range got.KeySigningKeys {
		if k.Status == StatusActive {
			active = append(active, k)
		}
	}
	if ds := parent.digests(); len(active) < 1 || !slices.Contains(ds, active[len(active)-1].DigestValue) {
		t.Errorf("parent DS %v, active KSKs %+v", ds, active)
	}
	t.Logf("%d steps, %d rings, %d ZSKs, %d KSKs", d.steps, d.rings, len(d.zsks), len(d.ksks))
}

// TestDSWaitLimit: a parent that never follows the CDS. After the wait limit the new KSK is
// ACTION_NEEDED, the metric says so, ZSK rotation pauses; an operator's ds-seen (the parent
// changed by hand) resumes it, and the rollover completes safely.
func TestDSWaitLimit(t *testing.T) {
	parent := newParent(1000 * day)
	p := autoPolicy(parent.addr)
	p.Rollover.DSWaitLimit = 2 * day
	f := setup(t, p, parent.use)
	d := newDriver(t, f, parent, p)
	ctx := context.Background()
	if err := f.m.Rollover(ctx, testZone, keystore.KSK); err != nil {
		t.Fatal(err)
	}
	d.run(t0.Add(time.Hour))
	if d.maxNeed != 0 {
		t.Fatal("ACTION_NEEDED before the wait limit")
	}
	d.run(t0.Add(3 * day))
	if v := d.needing(); v != 1 {
		t.Fatalf("signet_dnssec_ksks_needing_action = %v after the wait limit, want 1", v)
	}
	got, _ := f.m.GetDNSSEC(ctx, testZone)
	if got.Status.ServeSignature != StatusActionNeeded || !got.Rollover.Paused {
		t.Fatalf("zone status %+v, rollover %+v", got.Status, got.Rollover)
	}
	var rolling string
	for _, k := range got.KeySigningKeys {
		if k.Status == StatusActionNeeded {
			rolling = k.Name
		}
	}
	// ZSK rotation pauses: past the ZSK lifetime no new ZSK appears.
	zsks := len(d.zsks)
	d.run(t0.Add(40 * day))
	if len(d.zsks) != zsks {
		t.Errorf("ZSK rotated while a KSK was ACTION_NEEDED")
	}
	// The operator changes the DS at the registrar and confirms.
	for _, k := range got.KeySigningKeys {
		if k.Name == rolling {
			ds, _ := dns.NewRR(k.DSZoneFile)
			parent.set([]*dns.DS{ds.(*dns.DS)})
		}
	}
	f.clk.set(d.now)
	if err := f.m.ConfirmDS(ctx, testZone, rolling); err != nil {
		t.Fatal(err)
	}
	mustCode(t, f.m.ConfirmDS(ctx, testZone, QuickStartName), CodeInvalidKeySigningKeyStatus)
	if v := d.needing(); v != 0 {
		t.Errorf("needing action = %v after ds-seen", v)
	}
	d.run(d.now.Add(40 * day))
	d.violations()
	if len(d.zsks) == zsks {
		t.Error("ZSK rotation did not resume")
	}
	got, _ = f.m.GetDNSSEC(ctx, testZone)
	if len(got.KeySigningKeys) != 1 || got.KeySigningKeys[0].Name != rolling || got.KeySigningKeys[0].Status != StatusActive {
		t.Errorf("KSKs after the rollover: %+v", got.KeySigningKeys)
	}
}

// TestShortDSTTLCaught: the checks above can fail. A planner told the parent's DS TTL is an
// hour, when it is a day, retires the old KSK while resolvers still hold a DS RRset naming
// only it; the cache model sees the rings keymgr serves and reports it.
func TestShortDSTTLCaught(t *testing.T) {
	parent := newParent(3 * day)
	p := autoPolicy(parent.addr)
	p.Rollover.ParentDSTTL = time.Hour
	p.Rollover.ParentPropagation = time.Minute
	f := setup(t, p, parent.use)
	d := newDriver(t, f, parent, p)
	d.checker = rollovertest.New(DefaultDNSKEYTTL, day, day)
	d.run(t0.Add(380 * day))
	if d.checker.Count() == 0 {
		t.Fatal("no violation found although the old KSK left 23 hours early")
	}
}

// TestCrashResume: kill -9 after every step of two years of ZSK and KSK rollovers. Each
// restart resumes from the persisted timelines: every ring served validates, the cache model
// finds nothing bogus, and the rollovers complete as without crashes.
func TestCrashResume(t *testing.T) {
	parent := newParent(3 * day)
	p := autoPolicy(parent.addr)
	f := setup(t, p, parent.use)
	d := newDriver(t, f, parent, p)
	d.crash = true
	d.run(t0.Add(400 * day))
	d.violations()
	if len(d.ksks) != 2 || len(d.zsks) < 13 {
		t.Errorf("after 400 days with a crash at every step: %d KSKs, %d ZSKs; want 2 and 14±1", len(d.ksks), len(d.zsks))
	}
	if d.restarts < 400 {
		t.Errorf("only %d restarts", d.restarts)
	}
}

// TestCrashOrphans: a crash between creating a key in the keystore and saving the state that
// names it (or between saving a state without a key and deleting it) leaves a key no state
// names. The restart's first step deletes it and goes on.
func TestCrashOrphans(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true})
	orphanZSK, err := f.soft.Create(ctx, testZone, keystore.ZSK, 13)
	if err != nil {
		t.Fatal(err)
	}
	orphanKSK, err := f.tpm.Create(ctx, testZone, keystore.KSK, 13)
	if err != nil {
		t.Fatal(err)
	}
	other, err := f.soft.Create(ctx, "other.test.", keystore.ZSK, 13)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := f.m.GetDNSSEC(ctx, testZone)
	g := newFixture(t, f.dir, f.soft, f.tpm, f.clk)
	if err := g.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.soft.Get(ctx, orphanZSK.ID); err != nil {
		t.Errorf("the start itself deleted the orphan (%v): that waits for the loop", err)
	}
	if next := g.m.Step(ctx, f.clk.now()); next.IsZero() {
		t.Error("no next step")
	}
	for _, c := range []struct {
		store keystore.Store
		id    string
		kept  bool
	}{{f.soft, orphanZSK.ID, false}, {f.tpm, orphanKSK.ID, false}, {f.soft, other.ID, true}} {
		_, err := c.store.Get(ctx, c.id)
		if kept := err == nil; kept != c.kept {
			t.Errorf("key %s: kept %v, want %v (%v)", c.id, kept, c.kept, err)
		}
	}
	after, _ := g.m.GetDNSSEC(ctx, testZone)
	if len(after.Keys) != len(before.Keys) || len(after.Keys) != 2 {
		t.Errorf("keys after restart %+v, before %+v", after.Keys, before.Keys)
	}
	ring, _, _ := g.m.Signing(testZone)
	verifyAll(t, ring, t0)
}

// TestCatchUp: the server is down for 60 days in the middle of a ZSK rollover, then for 30
// days while a new KSK waits for its DS. Each restart catches up from the timestamps: no
// interval is shortened, nothing bogus can be cached, and the rollovers complete.
func TestCatchUp(t *testing.T) {
	ctx := context.Background()
	parent := newParent(2 * day)
	p := autoPolicy(parent.addr)
	f := setup(t, p, parent.use)
	d := newDriver(t, f, parent, p)
	if err := f.m.Rollover(ctx, testZone, keystore.ZSK); err != nil {
		t.Fatal(err)
	}
	d.run(t0.Add(30 * time.Minute)) // the new ZSK is published, not yet active
	if got, _ := d.f.m.GetDNSSEC(ctx, testZone); got.Rollover.Rolling != "ZSK" {
		t.Fatalf("no ZSK rollover in progress: %+v", got.Rollover)
	}
	d.outage(t0.Add(60 * day))
	d.run(t0.Add(62 * day))
	if got, _ := d.f.m.GetDNSSEC(ctx, testZone); got.Rollover.Rolling != "" || len(got.Keys) != 2 {
		t.Fatalf("after the outage the ZSK rollover did not complete: %+v %+v", got.Rollover, got.Keys)
	}

	d.f.clk.set(d.now)
	if err := d.f.m.Rollover(ctx, testZone, keystore.KSK); err != nil {
		t.Fatal(err)
	}
	d.run(d.now.Add(day)) // the new KSK is ready and its CDS published: the parent acts in 2 days
	d.outage(d.now.Add(30 * day))
	d.run(d.now.Add(10 * day))
	d.violations()
	got, _ := d.f.m.GetDNSSEC(ctx, testZone)
	if got.Rollover.Rolling != "" || len(got.KeySigningKeys) != 1 || got.KeySigningKeys[0].Name == QuickStartName {
		t.Errorf("after the outage the KSK rollover did not complete: %+v %+v", got.Rollover, got.KeySigningKeys)
	}
}

// TestStatusKeys: GetDNSSEC lists every key, ZSKs too, with its state and next transition
// through a ZSK rollover.
func TestStatusKeys(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true, MaxZoneTTL: func() time.Duration { return day }})
	got, _ := f.m.GetDNSSEC(ctx, testZone)
	if got.Rollover.KSKRollover != "manual" || got.Rollover.ZSKLifetime != (30*day).String() {
		t.Errorf("rollover status %+v", got.Rollover)
	}
	pub := rollover.Policy{}.PublishInterval()
	want := func(name string, keys []KeyState, exp []KeyState) {
		t.Run(name, func(t *testing.T) {
			if len(keys) != len(exp) {
				t.Fatalf("%d keys, want %d: %+v", len(keys), len(exp), keys)
			}
			for i, e := range exp {
				k := keys[i]
				if k.Role != e.Role || k.State != e.State || k.Status != e.Status || !k.Next.Equal(e.Next) || k.NextEvent != e.NextEvent {
					t.Errorf("key %d: %s %s %s next %s %q, want %s %s %s next %s %q", i, k.Role, k.State, k.Status, k.Next, k.NextEvent,
						e.Role, e.State, e.Status, e.Next, e.NextEvent)
				}
			}
		})
	}
	want("steady", got.Keys, []KeyState{
		{Role: "KSK", State: "active", Status: StatusActive},
		{Role: "ZSK", State: "active", Next: t0.Add(30*day - pub), NextEvent: "rollover starts"},
	})
	if err := f.m.Rollover(ctx, testZone, keystore.ZSK); err != nil {
		t.Fatal(err)
	}
	got, _ = f.m.GetDNSSEC(ctx, testZone)
	if got.Rollover.Rolling != "ZSK" {
		t.Errorf("rolling %q", got.Rollover.Rolling)
	}
	want("rolling", got.Keys, []KeyState{
		{Role: "KSK", State: "active", Status: StatusActive},
		{Role: "ZSK", State: "active", Next: t0.Add(pub), NextEvent: "retired"},
		{Role: "ZSK", State: "published", Next: t0.Add(pub), NextEvent: "active"},
	})
	mustCode(t, f.m.Rollover(ctx, testZone, keystore.ZSK), CodeConcurrentModification)
	mustCode(t, f.m.Rollover(ctx, testZone, keystore.KSK), CodeInvalidArgument)
}

// TestRunTinyTimings: the real loop with second-scale timings (what the real-time unbound
// test uses): the ZSK rolls over within seconds, because the loop wakes at each deadline
// rather than on a coarse tick.
func TestRunTinyTimings(t *testing.T) {
	if testing.Short() {
		t.Skip("real time")
	}
	m, err := New(Config{State: fileState(t, t.TempDir()), Soft: memory.New()})
	if err != nil {
		t.Fatal(err)
	}
	p := ZonePolicy{QuickStart: true, DNSKEYTTL: time.Second, MaxZoneTTL: func() time.Duration { return time.Second },
		Rollover: rollover.Policy{ZSKLifetime: 2 * time.Second, PropagationDelay: 100 * time.Millisecond}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.AddZone(ctx, testZone, p); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	seen := map[uint16]bool{}
	// The third ZSK signs from about 4 s; the loop below ends as soon as it does, and the
	// bound leaves room for a machine loaded by a parallel test run with -race (6 s flaked).
	start := time.Now()
	deadline := start.Add(20 * time.Second)
	for time.Now().Before(deadline) && len(seen) < 3 {
		if ring, _, ok := m.Signing(testZone); ok {
			for _, k := range ring.Keys() {
				if !k.KSK && k.Active {
					seen[k.Tag] = true
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	// Lifetime 2 s: the second ZSK signs from about 2 s, the third from about 4 s.
	if len(seen) < 3 {
		t.Errorf("%d ZSKs signed within 20 s with a 2 s lifetime, want 3", len(seen))
	}
	t.Logf("%d ZSKs signed within %v", len(seen), time.Since(start).Round(time.Millisecond))
}

// TestStatusOutgoingKSK: during an automatic KSK rollover the outgoing KSK has no planned
// time yet (it waits for the parent's DS); its next event says so instead of announcing the
// next yearly rollover.
func TestStatusOutgoingKSK(t *testing.T) {
	ctx := context.Background()
	f := setup(t, ZonePolicy{QuickStart: true, MaxZoneTTL: func() time.Duration { return day },
		Rollover: rollover.Policy{KSKAutomatic: true}})
	if err := f.m.Rollover(ctx, testZone, keystore.KSK); err != nil {
		t.Fatal(err)
	}
	got, err := f.m.GetDNSSEC(ctx, testZone)
	if err != nil {
		t.Fatal(err)
	}
	var old *KeyState
	for i := range got.Keys {
		if got.Keys[i].Role == "KSK" && got.Keys[i].Name == QuickStartName {
			old = &got.Keys[i]
		}
	}
	if old == nil {
		t.Fatalf("no outgoing KSK in %+v", got.Keys)
	}
	if old.NextEvent != "retires when its successor takes over" || !old.Next.IsZero() {
		t.Fatalf("outgoing KSK next %s %q", old.Next, old.NextEvent)
	}
}
