package cluster

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/internal/etcdguard"
	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore"
	etcdkeys "github.com/signetdns/signet/keystore/etcd"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/statestore"
	etcdstate "github.com/signetdns/signet/statestore/etcd"
	filestate "github.com/signetdns/signet/statestore/file"
	"github.com/signetdns/signet/zones"
)

// syncPolicy never rolls by itself (the tests start each rollover); a new ZSK is active
// Ipub = 2 s + 1 s after it is published, and the old one leaves Iret = 3 s after that.
var syncPolicy = keymgr.ZonePolicy{QuickStart: true, DNSKEYTTL: time.Second,
	MaxZoneTTL: func() time.Duration { return time.Second },
	Rollover:   rollover.Policy{ZSKLifetime: -1, PropagationDelay: 2 * time.Second}}

// gatedState is a follower's view of the shared state in which, while closed, the leader's
// pre-made signatures have not arrived (a read finds none), as when they are written after
// the state that needs them.
type gatedState struct {
	statestore.Store
	closed atomic.Bool
}

func (g *gatedState) Load(ctx context.Context, zone string, doc statestore.Doc) ([]byte, statestore.Revision, error) {
	if doc == statestore.Premade && g.closed.Load() {
		return nil, 0, fmt.Errorf("pre-made signatures of %s: %w", zone, statestore.ErrNotFound)
	}
	return g.Store.Load(ctx, zone, doc)
}

// swappedKeys is a follower's shared ZSK store opened with one of two age identities: one
// that is not among the leader's recipients (it cannot decrypt the ZSKs made while it is in
// use), or its own (the operator fixed the identity file). Both are real etcd keystores.
type swappedKeys struct {
	right, wrong *etcdkeys.Store
	bad          atomic.Bool
}

func (s *swappedKeys) cur() *etcdkeys.Store {
	if s.bad.Load() {
		return s.wrong
	}
	return s.right
}
func (s *swappedKeys) Create(ctx context.Context, zone string, role keystore.Role, alg uint8) (keystore.Meta, error) {
	return s.cur().Create(ctx, zone, role, alg)
}
func (s *swappedKeys) List(ctx context.Context, zone string) ([]keystore.Meta, error) {
	return s.cur().List(ctx, zone)
}
func (s *swappedKeys) Get(ctx context.Context, id string) (keystore.Meta, error) {
	return s.cur().Get(ctx, id)
}
func (s *swappedKeys) Signer(ctx context.Context, id string) (crypto.Signer, error) {
	return s.cur().Signer(ctx, id)
}
func (s *swappedKeys) Delete(ctx context.Context, id string) error { return s.cur().Delete(ctx, id) }
func (s *swappedKeys) Close() error                                { return errors.Join(s.right.Close(), s.wrong.Close()) }
func (s *swappedKeys) Guard(l etcdguard.Leader)                    { s.right.Guard(l); s.wrong.Guard(l) }

// syncInstance runs an instance for the sync tests: ksk nil means it cannot lead (it holds
// no KSK); state and keys, when set, replace its view of the shared state and its ZSK store.
type syncOpts struct {
	ksk         *memory.Store
	state       *gatedState
	keys        *swappedKeys
	syncTimeout time.Duration
	// endpoints, when set, are the only etcd members the instance talks to; dns has it serve
	// the zone over DNS on loopback (its Addr) and compare with its peers every peerCheck.
	endpoints []string
	dns       bool
	peerCheck time.Duration
}

func startSync(t *testing.T, c *etcdtest.Cluster, name string, id *age.X25519Identity, recipients []age.Recipient, o syncOpts) *instance {
	t.Helper()
	dir := t.TempDir()
	endpoints := c.Endpoints()
	if o.endpoints != nil {
		endpoints = o.endpoints
	}
	cli, err := NewClient(ClientConfig{Endpoints: endpoints})
	if err != nil {
		t.Fatal(err)
	}
	shared := etcdstate.New(cli, prefix)
	var view statestore.Store = shared
	if o.state != nil {
		o.state.Store = shared
		view = o.state
	}
	local, err := filestate.Open(filepath.Join(dir, "zones"))
	if err != nil {
		t.Fatal(err)
	}
	open := func(id *age.X25519Identity, sub string) *etcdkeys.Store {
		keys, err := etcdkeys.Open(etcdkeys.Options{Client: cli, Prefix: prefix, Recipients: recipients, Identities: []age.Identity{id},
			CacheDir: filepath.Join(dir, sub)})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	right := open(id, "keys")
	var soft keystore.Store = right
	guarded := []Guarded{shared, right}
	if o.keys != nil {
		stranger, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		o.keys.right, o.keys.wrong = right, open(stranger, "stranger-keys")
		soft, guarded = o.keys, []Guarded{shared, o.keys}
	}
	kcfg := keymgr.Config{State: view, Local: local, Soft: soft, KSKCheckInterval: -1, KSKRetryMin: 200 * time.Millisecond}
	if o.ksk != nil {
		kcfg.LocalKSK = o.ksk
	}
	mgr, err := keymgr.New(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	var addr string
	if o.dns {
		quietLog := slog.New(slog.DiscardHandler)
		h := server.NewHandler(testZones(t), mgr, signer.New(signer.Config{}), server.Config{Logger: quietLog}, nil)
		srv := server.New(h, server.Config{Listen: []string{"127.0.0.1:0"}, UDPReaders: 1, Logger: quietLog})
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
		addr = srv.UDPAddrs()[0].String()
	}
	node, err := New(Config{Name: name, Client: cli, Prefix: prefix, Manager: mgr, Shared: shared,
		Guarded: guarded, LeaseTTL: 2 * time.Second, Resync: time.Second, SyncTimeout: o.syncTimeout,
		Addr: addr, PeerCheck: o.peerCheck})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := mgr.AddZone(ctx, zone, syncPolicy); err != nil {
		t.Fatal(err)
	}
	in := &instance{name: name, cli: cli, mgr: mgr, node: node, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(in.done); node.Run(ctx) }()
	t.Cleanup(in.stop)
	return in
}

// pair starts a leader (ns1, which holds the KSK) and then a follower (ns2) and waits until
// both serve the leader's ring.
func pair(t *testing.T, follower syncOpts) (leader, fol *instance) {
	t.Helper()
	c := etcdtest.Start(t, 1)
	ids, recipients := identities(t, 2)
	leader = startSync(t, c, "ns1", ids[0], recipients, syncOpts{ksk: memory.New(), syncTimeout: follower.syncTimeout})
	waitFor(t, 15*time.Second, "ns1 leads and signs", func() bool {
		_, _, ok := leader.mgr.Signing(zone)
		return leader.node.Leading() && ok
	})
	fol = startSync(t, c, "ns2", ids[1], recipients, follower)
	waitFor(t, 10*time.Second, "ns2 serves the leader's ring, and the leader knows", func() bool {
		return sameRing(leader, fol) && reported(leader, fol)
	})
	return leader, fol
}

// reported reports whether the leader has seen the follower's presence report with the ring
// the leader serves: until then the follower is not live for it, and not waited for.
func reported(leader, fol *instance) bool {
	want, _ := leader.mgr.Served(zone)
	leader.node.peers.mu.Lock()
	defer leader.node.peers.mu.Unlock()
	z, ok := leader.node.peers.in[fol.name].Zones[zone]
	return ok && z.Revisions().Covers(want.Revisions)
}

func sameRing(a, b *instance) bool {
	x, err1 := served(a, time.Now())
	y, err2 := served(b, time.Now())
	sa, _ := a.mgr.Served(zone)
	sb, _ := b.mgr.Served(zone)
	return err1 == nil && err2 == nil && x == y && sb.Covers(sa.Revisions)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("not within %s: %s", d, what)
		}
	}
}

// zskTimes reads the leader's ZSK timelines from etcd.
func zskTimes(t *testing.T, in *instance) map[string]rollover.Key {
	t.Helper()
	b, _, err := etcdstate.New(in.cli, prefix).Load(context.Background(), zone, statestore.KeyState)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		ZSKs []rollover.Key `json:"zsks"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	out := map[string]rollover.Key{}
	for _, k := range st.ZSKs {
		out[k.ID] = k
	}
	return out
}

// newZSK returns the ZSK of after that before does not have.
func newZSK(t *testing.T, before, after map[string]rollover.Key) rollover.Key {
	t.Helper()
	for id, k := range after {
		if _, ok := before[id]; !ok {
			return k
		}
	}
	t.Fatal("no new ZSK in the leader's state")
	return rollover.Key{}
}

// lastSync returns the leader's last recorded ring change of the zone.
func lastSync(in *instance) (SyncRecord, int) {
	recs := in.node.Syncs()[zone]
	if len(recs) == 0 {
		return SyncRecord{}, 0
	}
	return recs[len(recs)-1], len(recs)
}

// TestLeaderWaitsForLateFollower: the follower does not get the pre-made signatures of the
// new ring (the ZSK rollover's publication) for 2.5 s. The leader's next step, the new ZSK's
// activation, comes Ipub after the follower started serving the new ring, not Ipub after the
// leader's change: counted from the change it would come while the follower still served
// a DNSKEY RRset without the new ZSK.
func TestLeaderWaitsForLateFollower(t *testing.T) {
	gate := &gatedState{}
	leader, fol := pair(t, syncOpts{state: gate, syncTimeout: 20 * time.Second})
	p := syncPolicy.Rollover
	p.DNSKEYTTL, p.MaxZoneTTL = syncPolicy.DNSKEYTTL, time.Second
	ipub := p.PublishInterval()

	before := zskTimes(t, leader)
	_, n := lastSync(leader)
	gate.closed.Store(true)
	if err := leader.mgr.Rollover(context.Background(), zone, keystore.ZSK); err != nil {
		t.Fatal(err)
	}
	published := time.Now()
	time.Sleep(2500 * time.Millisecond)
	if _, m := lastSync(leader); m != n {
		t.Fatal("the leader recorded the ring change as served while the follower could not serve it")
	}
	gate.closed.Store(false)
	opened := time.Now()
	waitFor(t, 10*time.Second, "the leader records the ring change as served", func() bool { _, m := lastSync(leader); return m > n })
	rec, _ := lastSync(leader)
	fs, _ := fol.mgr.Served(zone)
	// The leader records the change as served, then saves the instants it moved.
	var k rollover.Key
	waitFor(t, 5*time.Second, "the leader saves the new ZSK's activation moved by the lag", func() bool {
		k = newZSK(t, before, zskTimes(t, leader))
		return !k.Active.Equal(k.Publish.Add(ipub))
	})
	t.Logf("published %s after the rollover call; follower served it %s after; synced record %+v; active %s after publication",
		k.Publish.Sub(published).Round(time.Millisecond), fs.Since.Sub(k.Publish).Round(time.Millisecond), rec, k.Active.Sub(k.Publish).Round(time.Millisecond))
	if len(rec.Laggards) != 0 || rec.Synced.Before(opened) {
		t.Errorf("sync record %+v: want no laggard and the follower's swap-in after the gate opened (%s)", rec, opened)
	}
	if !rec.Synced.Equal(fs.Since) && rec.Synced.Before(fs.Since) {
		t.Errorf("synced %s before the follower's swap-in %s", rec.Synced, fs.Since)
	}
	if k.Active.Before(rec.Synced.Add(ipub)) || k.Active.Before(opened.Add(ipub)) {
		t.Errorf("the new ZSK is active at %s, before the follower's swap-in (%s) + Ipub (%s)", k.Active, rec.Synced, ipub)
	}
	if want := k.Publish.Add(ipub + rec.Synced.Sub(rec.Committed)); !k.Active.Equal(want) {
		t.Errorf("active %s, want publication + Ipub + the lag = %s", k.Active, want)
	}
	// The follower follows the whole rollover, and so does the leader's record.
	waitFor(t, 15*time.Second, "the old ZSK leaves both instances' DNSKEY RRsets", func() bool {
		ring, _, _ := leader.mgr.Signing(zone)
		return ring != nil && len(ring.DNSKEYs()) == 2 && sameRing(leader, fol)
	})
}

// TestFollowerStaleAndBack: the follower's identity is not among the recipients of the ZSK
// the leader rolls to, so it cannot build the ring that publishes it: sync_timeout later it
// stops answering for the zone (SERVFAIL with EDE 14), its metric and the cluster status say
// so, and the leader, after waiting that long for it, goes on with the rollover, counting
// from the timeout. Given its identity back, it serves the ring again and answers.
func TestFollowerStaleAndBack(t *testing.T) {
	const timeout = 1500 * time.Millisecond
	keys := &swappedKeys{}
	leader, fol := pair(t, syncOpts{keys: keys, syncTimeout: timeout})
	reg := prometheus.NewPedanticRegistry()
	if err := fol.node.Register(reg); err != nil {
		t.Fatal(err)
	}
	h := server.NewHandler(testZones(t), fol.mgr, signer.New(signer.Config{}), server.Config{}, nil)
	ask := func() (*dns.Msg, *dns.EDNS0_EDE) {
		q := new(dns.Msg)
		q.SetQuestion("www."+zone, dns.TypeA)
		q.SetEdns0(1232, true)
		b, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(h.ServeUDP(b, make([]byte, 4096))); err != nil {
			t.Fatal(err)
		}
		var e *dns.EDNS0_EDE
		if opt := r.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if x, ok := o.(*dns.EDNS0_EDE); ok {
					e = x
				}
			}
		}
		return r, e
	}
	if r, _ := ask(); r.Rcode != dns.RcodeSuccess || len(r.Answer) < 2 {
		t.Fatalf("the follower before the rollover: %v", r)
	}

	keys.bad.Store(true)
	before := zskTimes(t, leader)
	if err := leader.mgr.Rollover(context.Background(), zone, keystore.ZSK); err != nil {
		t.Fatal(err)
	}
	k := newZSK(t, before, zskTimes(t, leader))
	waitFor(t, timeout+5*time.Second, "the follower goes stale", func() bool { return fol.node.Stale()[zone] != "" })
	stale := time.Now()
	why, held := fol.mgr.Held(zone)
	t.Logf("stale %s after the publication: %s", stale.Sub(k.Publish).Round(time.Millisecond), fol.node.Stale()[zone])
	if !held || stale.Before(k.Publish.Add(timeout)) {
		t.Errorf("held %v (%q) %s after the publication, want held, after the %s sync timeout", held, why, stale.Sub(k.Publish), timeout)
	}
	if !strings.Contains(fol.node.Stale()[zone], "ZSK "+k.ID) {
		t.Errorf("stale reason %q does not name the ZSK it cannot use", fol.node.Stale()[zone])
	}
	r, e := ask()
	if r.Rcode != dns.RcodeServerFailure || e == nil || e.InfoCode != dns.ExtendedErrorCodeNotReady || len(r.Answer) != 0 {
		t.Errorf("the stale follower answers %s with EDE %v, want SERVFAIL with EDE 14\n%v", dns.RcodeToString[r.Rcode], e, r)
	}
	if v := (gauge(t, reg, "signet_cluster_zone_stale", zone)); v != 1 {
		t.Errorf("signet_cluster_zone_stale{zone=%q} = %v, want 1", zone, v)
	}
	// The leader waited the sync timeout for the follower, then went on without it, the next
	// step counting from the timeout.
	waitFor(t, 5*time.Second, "the leader records the publication with its laggard", func() bool {
		rec, _ := lastSync(leader)
		return slices.Equal(rec.Laggards, []string{"ns2"})
	})
	rec, _ := lastSync(leader)
	if got := rec.Synced.Sub(rec.Committed); got != timeout {
		t.Errorf("the leader counted the publication from %s after it, want the sync timeout %s", got, timeout)
	}
	p := syncPolicy.Rollover
	p.DNSKEYTTL, p.MaxZoneTTL = syncPolicy.DNSKEYTTL, time.Second
	waitFor(t, 5*time.Second, "the leader saves the new ZSK's activation moved by the timeout", func() bool {
		k = zskTimes(t, leader)[k.ID]
		return !k.Active.Equal(k.Publish.Add(p.PublishInterval()))
	})
	if !k.Active.Equal(k.Publish.Add(p.PublishInterval() + timeout)) {
		t.Errorf("the new ZSK is active %s after its publication, want Ipub + the sync timeout (%s)", k.Active.Sub(k.Publish), p.PublishInterval()+timeout)
	}
	waitFor(t, 5*time.Second, "the status shows the stale follower and the laggard", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		st, err := ReadStatus(ctx, leader.cli, prefix)
		if err != nil {
			return false
		}
		all := strings.Join(st.Problems, "\n")
		return strings.Contains(all, "ns2 does not answer for "+zone) && strings.Contains(all, "ns2 did not serve it in time")
	})
	waitFor(t, 10*time.Second, "the leader removes the old ZSK", func() bool {
		ring, _, _ := leader.mgr.Signing(zone)
		return ring != nil && len(ring.DNSKEYs()) == 2
	})

	keys.bad.Store(false)
	waitFor(t, 5*time.Second, "the follower serves the ring again", func() bool { return fol.node.Stale()[zone] == "" && sameRing(leader, fol) })
	if _, held := fol.mgr.Held(zone); held {
		t.Error("the follower still withholds the zone")
	}
	if r, _ := ask(); r.Rcode != dns.RcodeSuccess || len(r.Answer) < 2 {
		t.Errorf("the follower after it caught up: %v", r)
	}
	if v := (gauge(t, reg, "signet_cluster_zone_stale", zone)); v != 0 {
		t.Errorf("signet_cluster_zone_stale{zone=%q} = %v after it caught up, want 0", zone, v)
	}
}

// gauge returns the value of the gauge name for zone in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name, zone string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if mf.GetName() == name && l.GetName() == "zone" && l.GetValue() == zone {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{zone=%q}", name, zone)
	return 0
}

// testZones is the zone's data, as every instance loads it from its file.
func testZones(t *testing.T) *zones.Store {
	t.Helper()
	z, err := zones.Parse(strings.NewReader("$TTL 60\n@ SOA ns h 1 3600 600 86400 60\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.2\n"), zone, "zone", zones.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st := zones.NewStore()
	st.Set(z)
	return st
}

// TestSyncedTimeout: Synced with a clock a test moves and presence reports set by hand. The
// change is served once every live instance that serves the zone reports its revisions or
// later (an instance without the zone does not count), from the latest swap-in but never
// before the change nor after now; an instance that does not report it in time is a laggard
// and the change counts from the timeout.
func TestSyncedTimeout(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	n := &Node{cfg: Config{Name: "ns1", SyncTimeout: 30 * time.Second, Now: func() time.Time { return now }},
		log: slog.New(slog.DiscardHandler), poked: make(chan struct{}, 1), syncs: map[string][]SyncRecord{}}
	rev := keymgr.Revisions{State: 10, Premade: 11}
	committed := now
	report := func(name string, state, premade int64, since time.Time) Instance {
		return Instance{Name: name, Zones: map[string]ZoneServed{zone: {StateRevision: state, PremadeRevision: premade, Since: since}}}
	}
	n.peers = peers{ok: true, in: map[string]Instance{
		"ns1": report("ns1", 10, 11, committed),
		"ns2": report("ns2", 10, 9, committed.Add(-time.Hour)), // the old ring
		"ns3": report("ns3", 12, 13, committed.Add(2*time.Second)),
		"ns4": {Name: "ns4", Zones: map[string]ZoneServed{"other.test.": {StateRevision: 1}}},
	}}
	now = now.Add(3 * time.Second)
	if _, ok := n.Synced(zone, rev, committed); ok {
		t.Fatal("synced while ns2 serves the old ring")
	}
	n.peers.in["ns2"] = report("ns2", 10, 11, committed.Add(5*time.Second)) // its clock is ahead
	at, ok := n.Synced(zone, rev, committed)
	if !ok || !at.Equal(now) {
		t.Errorf("synced %v at %s, want at now (%s): a swap-in reported ahead of the leader's clock counts as now", ok, at, now)
	}
	n.peers.in["ns2"] = report("ns2", 10, 11, committed.Add(-time.Second))
	if at, _ := n.Synced(zone, rev, committed); !at.Equal(committed.Add(2 * time.Second)) {
		t.Errorf("synced at %s, want ns3's swap-in %s", at, committed.Add(2*time.Second))
	}
	n.peers.in["ns2"] = report("ns2", 9, 9, committed.Add(-time.Hour))
	now = committed.Add(29 * time.Second)
	if _, ok := n.Synced(zone, rev, committed); ok {
		t.Fatal("synced before the timeout while ns2 lags")
	}
	now = committed.Add(31 * time.Second)
	at, ok = n.Synced(zone, rev, committed)
	recs := n.Syncs()[zone]
	rec := recs[len(recs)-1]
	if !ok || !at.Equal(committed.Add(30*time.Second)) || !slices.Equal(rec.Laggards, []string{"ns2"}) {
		t.Errorf("after the timeout: %v at %s, laggards %v; want the timeout %s and ns2", ok, at, rec.Laggards, committed.Add(30*time.Second))
	}
	delete(n.peers.in, "ns2") // its lease ran out: no longer live, no longer waited for
	now = committed.Add(time.Second)
	if at, ok := n.Synced(zone, rev, committed); !ok || !at.Equal(committed.Add(time.Second)) {
		t.Errorf("without ns2: %v at %s, want ns3's swap-in clamped to now", ok, at)
	}
}

// TestPartitionedFollowerAsksPeers: three instances serving DNS on loopback; the follower ns2
// talks to one etcd member only, which stops: cut off from etcd while the other two keep a
// quorum. As long as its peers serve its DNSKEY RRset it answers. The leader rolls the ZSK
// and, ns2's lease run out, goes on without it: ns2 finds the new DNSKEY RRset at its peers
// and stops answering for the zone (SERVFAIL, EDE 14). Its etcd member back, it catches up and
// answers again.
func TestPartitionedFollowerAsksPeers(t *testing.T) {
	c := etcdtest.Start(t, 3)
	ids, recipients := identities(t, 3)
	all := c.Endpoints()
	both := []string{all[0], all[1]}
	o := syncOpts{syncTimeout: time.Second, dns: true, peerCheck: 300 * time.Millisecond}
	lo := o
	lo.ksk, lo.endpoints = memory.New(), both
	leader := startSync(t, c, "ns1", ids[0], recipients, lo)
	waitFor(t, 15*time.Second, "ns1 leads and signs", func() bool {
		_, _, ok := leader.mgr.Signing(zone)
		return leader.node.Leading() && ok
	})
	fo := o
	fo.endpoints = []string{all[2]}
	cut := startSync(t, c, "ns2", ids[1], recipients, fo)
	co := o
	co.endpoints = both
	other := startSync(t, c, "ns3", ids[2], recipients, co)
	waitFor(t, 10*time.Second, "all three serve one ring and ns2 knows where its peers answer", func() bool {
		cut.node.peers.mu.Lock()
		known := cut.node.peers.in["ns1"].Addr != "" && cut.node.peers.in["ns3"].Addr != ""
		cut.node.peers.mu.Unlock()
		return known && sameRing(leader, cut) && sameRing(leader, other) && reported(leader, cut) && reported(leader, other)
	})
	ask := func(in *instance) *dns.Msg {
		q := new(dns.Msg)
		q.SetQuestion("www."+zone, dns.TypeA)
		q.SetEdns0(1232, true)
		r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(q, in.node.cfg.Addr)
		if err != nil {
			t.Fatalf("ask %s: %v", in.name, err)
		}
		return r
	}

	c.Stop(c.Members[2])
	waitFor(t, 10*time.Second, "ns2 sees etcd down", func() bool { return !cut.node.EtcdUp() })
	// Its peers serve the same DNSKEY RRset: it goes on answering.
	time.Sleep(4 * o.peerCheck)
	if why, held := cut.mgr.Held(zone); held {
		t.Fatalf("cut off from etcd, its peers agreeing, ns2 withholds the zone: %s", why)
	}
	if r := ask(cut); r.Rcode != dns.RcodeSuccess || len(r.Answer) < 2 {
		t.Fatalf("ns2 cut off from etcd, its peers agreeing: %v", r)
	}

	if err := leader.mgr.Rollover(context.Background(), zone, keystore.ZSK); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "ns2 finds the new DNSKEY RRset at a peer and withholds the zone", func() bool { return cut.node.Stale()[zone] != "" })
	t.Logf("ns2: %s", cut.node.Stale()[zone])
	if !strings.Contains(cut.node.Stale()[zone], "serves another DNSKEY RRset") {
		t.Errorf("reason %q", cut.node.Stale()[zone])
	}
	r := ask(cut)
	var e *dns.EDNS0_EDE
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if x, ok := o.(*dns.EDNS0_EDE); ok {
				e = x
			}
		}
	}
	if r.Rcode != dns.RcodeServerFailure || e == nil || e.InfoCode != dns.ExtendedErrorCodeNotReady {
		t.Errorf("ns2 with another ring than its peers answers %s with EDE %v, want SERVFAIL with EDE 14", dns.RcodeToString[r.Rcode], e)
	}
	if r := ask(other); r.Rcode != dns.RcodeSuccess {
		t.Errorf("ns3 answers %s", dns.RcodeToString[r.Rcode])
	}

	c.Restart(c.Members[2])
	waitFor(t, 15*time.Second, "ns2 catches up and answers again", func() bool {
		_, held := cut.mgr.Held(zone)
		return !held && sameRing(leader, cut)
	})
	if r := ask(cut); r.Rcode != dns.RcodeSuccess || len(r.Answer) < 2 {
		t.Errorf("ns2 after it caught up: %v", r)
	}
}
