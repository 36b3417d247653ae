package cluster

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	backoffcfg "google.golang.org/grpc/backoff"

	"github.com/signetdns/signet/internal/etcdguard"
	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/statestore"
)

// Defaults of Config.
const (
	// DefaultLeaseTTL is the lease of the leader's election key and of each instance's
	// presence: a leader that dies is replaced within about this long.
	DefaultLeaseTTL = 5 * time.Second
	// DefaultResync is how often a follower re-reads every zone's state, in case a watch
	// missed a change (etcd compacted it away during a partition).
	DefaultResync = 10 * time.Second
	// reportEvery is how often an instance re-publishes what it serves.
	reportEvery = time.Second
	// retryMin and retryMax bound the back-off between attempts to reach etcd.
	retryMin = 200 * time.Millisecond
	retryMax = 5 * time.Second
)

// Guarded is a shared store whose writes the leader guards with its election key.
type Guarded interface {
	Guard(etcdguard.Leader)
}

// Config is what a Node needs.
type Config struct {
	// Name is this instance's name, unique in the cluster.
	Name string
	// Client is the etcd client.
	Client *clientv3.Client
	// Prefix starts every etcd key of the cluster ("/signet/<cluster>/").
	Prefix string
	// Manager is this instance's key manager, with every zone added, following.
	Manager *keymgr.Manager
	// Shared is the shared state store the followers watch.
	Shared statestore.Store
	// Guarded are the shared stores the leader's writes go to (state and keys).
	Guarded []Guarded
	// Serials returns the SOA serial this instance serves for each zone; nil: none reported.
	Serials func() map[string]uint32
	// LeaseTTL is the election lease; 0 means DefaultLeaseTTL.
	LeaseTTL time.Duration
	// Resync is the period of the followers' full re-read; 0 means DefaultResync.
	Resync time.Duration
	// SyncTimeout bounds how long the leader waits for every live instance to serve a ring
	// change before the next interval counts, and how long a follower may serve an older
	// ring than etcd holds before it stops answering for the zone; 0 means
	// DefaultSyncTimeout. Keep it well under the zones' propagation delay.
	SyncTimeout time.Duration
	// Now is the clock of the swap-in instants and timeouts; nil means time.Now.
	Now func() time.Time
	// Addr is the DNS address (host:port) the other instances can ask this one at, published
	// in its presence report; "" when they cannot.
	Addr string
	// PeerCheck is how often an instance cut off from etcd asks the others (at the addresses
	// of their last reports) for each zone's DNSKEY RRset; 0 means DefaultPeerCheck.
	PeerCheck time.Duration
	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger
	// OnLead, when set, runs in its own goroutine each time this instance becomes the
	// leader, with a context that ends with the leadership, once the shared stores are
	// guarded: cmd has the shared keystore encrypt the keys again to the configured
	// recipients there.
	OnLead func(ctx context.Context)
	// KeyChanges, when set, reports writes of the shared keys (keystore/etcd's Changes); a
	// follower then syncs every zone, so that a ring it could not build for want of a key it
	// could not decrypt is built as soon as the leader has encrypted the key to it.
	KeyChanges func(ctx context.Context) <-chan struct{}
}

// Node is one instance's membership of the cluster.
type Node struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // orders the role changes of the Manager
	leading bool

	leader     atomic.Pointer[string] // the leader's name as last observed
	etcdErrors atomic.Uint64
	up         atomic.Bool   // etcd answered the last request
	poked      chan struct{} // asks the report loop to publish now

	peers peers // the live instances' reports

	syncMu sync.Mutex
	syncs  map[string][]SyncRecord // the ring changes this instance saw served, leading

	trackMu sync.Mutex
	track   map[string]*track // per zone: etcd's newest revisions against the ring served
}

// New returns a Node; Run starts it.
func New(cfg Config) (*Node, error) {
	if cfg.Name == "" || cfg.Client == nil || cfg.Manager == nil || cfg.Shared == nil {
		return nil, errors.New("cluster: Name, Client, Manager and Shared are required")
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = DefaultSyncTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PeerCheck <= 0 {
		cfg.PeerCheck = DefaultPeerCheck
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, log: log.With("component", "cluster", "instance", cfg.Name), poked: make(chan struct{}, 1),
		peers: peers{in: map[string]Instance{}}, syncs: map[string][]SyncRecord{}, track: map[string]*track{}}
	cfg.Manager.Follow("")
	cfg.Manager.WaitFor(n)
	return n, nil
}

func (n *Node) electionKey() string { return n.cfg.Prefix + "leader" }
func (n *Node) instanceKey() string { return n.cfg.Prefix + "instances/" + n.cfg.Name }

// Leading reports whether this instance is the key leader now.
func (n *Node) Leading() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leading
}

// Leader returns the name of the leader as last observed ("" when unknown).
func (n *Node) Leader() string {
	if p := n.leader.Load(); p != nil {
		return *p
	}
	return ""
}

// EtcdErrors is the count of failed requests to etcd.
func (n *Node) EtcdErrors() uint64 { return n.etcdErrors.Load() }

// EtcdUp reports whether etcd answered this instance's last request.
func (n *Node) EtcdUp() bool { return n.up.Load() }

// Lag returns, per zone, how many etcd revisions the key state this instance serves is
// behind the newest one it was told of (0: up to date).
func (n *Node) Lag() map[string]int64 {
	out := map[string]int64{}
	for _, zone := range n.cfg.Manager.Zones() {
		served, err := n.cfg.Manager.Served(zone)
		if err != nil {
			continue
		}
		var latest statestore.Revision
		n.trackMu.Lock()
		if t := n.track[zone]; t != nil {
			latest = t.latest.State
		}
		n.trackMu.Unlock()
		out[zone] = max(0, int64(latest)-int64(served.State))
	}
	return out
}

// poke has the report loop publish what this instance serves now.
func (n *Node) poke() {
	select {
	case n.poked <- struct{}{}:
	default:
	}
}

// Run campaigns, leads or follows, and reports what this instance serves, until ctx ends.
func (n *Node) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(5)
	go func() { defer wg.Done(); n.follow(ctx) }()
	go func() { defer wg.Done(); n.report(ctx) }()
	go func() { defer wg.Done(); n.watchPeers(ctx) }()
	go func() { defer wg.Done(); n.guard(ctx) }()
	go func() { defer wg.Done(); n.checkPeers(ctx) }()
	if n.cfg.KeyChanges != nil {
		wg.Add(1)
		go func() { defer wg.Done(); n.followKeys(ctx) }()
	}
	n.campaign(ctx)
	wg.Wait()
}

func (n *Node) failed(what string, err error) {
	if err == nil {
		n.up.Store(true)
		return
	}
	n.up.Store(false)
	n.etcdErrors.Add(1)
	n.log.Warn("etcd: "+what, "err", err)
}

// backoff waits before attempt number i (from 0) to reach etcd again; false when ctx ended.
func backoff(ctx context.Context, i int) bool {
	d := min(retryMin<<min(i, 8), retryMax)
	d += rand.N(d / 2) // spread the instances' retries
	select {
	case <-time.After(d):
		return true
	case <-ctx.Done():
		return false
	}
}

// campaign runs one election session after another: each campaigns, leads once it wins,
// and ends when its lease does (etcd unreachable for longer than the TTL) or ctx does.
func (n *Node) campaign(ctx context.Context) { n.sessions(ctx, "start an election session", n.elect) }

// sessions runs one lease session after another until ctx ends, with run on each, retrying
// with back-off while etcd does not grant one.
func (n *Node) sessions(ctx context.Context, what string, run func(context.Context, *concurrency.Session)) {
	for i := 0; ctx.Err() == nil; i++ {
		sess, err := concurrency.NewSession(n.cfg.Client, concurrency.WithTTL(int(n.cfg.LeaseTTL/time.Second)), concurrency.WithContext(ctx))
		n.failed(what, err)
		if err != nil {
			if !backoff(ctx, i) {
				return
			}
			continue
		}
		i = 0
		run(ctx, sess)
		_ = sess.Close()
	}
}

func (n *Node) elect(ctx context.Context, sess *concurrency.Session) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-sctx.Done():
		}
	}()
	el := concurrency.NewElection(sess, n.electionKey())
	go n.observe(sctx, el)
	if err := el.Campaign(sctx, n.cfg.Name); err != nil {
		if sctx.Err() == nil {
			n.failed("campaign", err)
		}
		return
	}
	n.lead(sctx, el)
}

// observe follows the election's leader, so that a follower's refusals name it.
func (n *Node) observe(ctx context.Context, el *concurrency.Election) {
	for resp := range el.Observe(ctx) {
		if len(resp.Kvs) == 0 {
			continue
		}
		name := string(resp.Kvs[0].Value)
		n.leader.Store(&name)
		n.mu.Lock()
		if !n.leading {
			n.cfg.Manager.Follow(name)
		}
		n.mu.Unlock()
	}
}

// lead guards the shared stores with the won election, makes the key manager lead and runs
// its loop until ctx ends (the session's lease ran out, or shutdown); then it follows again.
// A write the loop attempts after the lease ran out fails on the guard, so two leaders can
// never both change the state.
func (n *Node) lead(ctx context.Context, el *concurrency.Election) {
	for _, g := range n.cfg.Guarded {
		g.Guard(el)
	}
	n.mu.Lock()
	n.leading = true
	name := n.cfg.Name
	n.leader.Store(&name)
	n.mu.Unlock()
	n.log.Info("elected key leader")
	if n.cfg.OnLead != nil {
		go n.cfg.OnLead(ctx)
	}
	if err := n.cfg.Manager.Lead(ctx); err != nil {
		n.log.Error("take over the key state", "err", err)
	}
	n.cfg.Manager.Run(ctx)
	n.mu.Lock()
	n.leading = false
	n.cfg.Manager.Follow("")
	n.mu.Unlock()
	n.log.Warn("no longer the key leader")
}

// follow applies the changes the shared store reports, and re-reads every zone each Resync;
// the leader's own changes come back as no-ops.
func (n *Node) follow(ctx context.Context) {
	tick := time.NewTicker(n.cfg.Resync)
	defer tick.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		ch, err := n.cfg.Shared.Watch(ctx)
		n.failed("watch the zone state", err)
		if err != nil {
			if !backoff(ctx, i) {
				return
			}
			continue
		}
		i = 0
		n.syncAll(ctx) // what changed before the watch started
		for open := true; open; {
			select {
			case c, ok := <-ch:
				if open = ok; ok {
					n.changed(ctx, c)
				}
			case <-tick.C:
				n.syncAll(ctx)
			}
		}
	}
}

func (n *Node) changed(ctx context.Context, c statestore.Change) {
	n.log.Debug("shared state changed", "zone", c.Zone, "doc", c.Doc, "revision", c.Rev)
	n.note(c.Zone, c.Doc, c.Rev)
	if !slices.Contains(n.cfg.Manager.Zones(), c.Zone) {
		return
	}
	n.sync(ctx, c.Zone)
}

func (n *Node) syncAll(ctx context.Context) {
	n.readLatest(ctx)
	for _, zone := range n.cfg.Manager.Zones() {
		n.sync(ctx, zone)
	}
}

// sync has a follower's key manager serve the zone's latest ring; the leader's state is its
// own.
func (n *Node) sync(ctx context.Context, zone string) {
	if n.Leading() {
		return
	}
	before, _ := n.cfg.Manager.Served(zone)
	err := n.cfg.Manager.Sync(ctx, zone)
	if errors.Is(err, keymgr.ErrBadState) {
		// etcd answered; the zone's document is damaged. That zone keeps the ring it
		// serves (none, at a start: it is withheld), and etcd is not reported down for it.
		n.log.Error("the zone's key state in etcd does not decode: its served ring stays", "zone", zone, "err", err)
	} else {
		n.failed("read the state of "+zone, err)
	}
	if after, _ := n.cfg.Manager.Served(zone); after != before {
		n.checkStale()
		n.poke() // the leader waits for this report
	}
}

// Instance is what an instance publishes about itself (and Status shows).
type Instance struct {
	Name string `json:"name"`
	// Addr is where the other instances can ask it over DNS ("" when not given).
	Addr   string                `json:"addr,omitempty"`
	Leader bool                  `json:"leader"`
	Zones  map[string]ZoneServed `json:"zones"`
	// Syncs are the leader's last ring changes per zone, each with when every live instance
	// served it.
	Syncs   map[string][]SyncRecord `json:"syncs,omitempty"`
	Updated time.Time               `json:"updated"`
}

// ZoneServed is what an instance serves of one zone.
type ZoneServed struct {
	// StateRevision and PremadeRevision are the etcd revisions of the key state and the
	// pre-made signatures of the ring served.
	StateRevision   int64 `json:"state_revision"`
	PremadeRevision int64 `json:"premade_revision"`
	// Serial is the zone's SOA serial; 0 when not reported.
	Serial uint32 `json:"serial,omitempty"`
	// Since is when this instance started serving the ring (its clock).
	Since time.Time `json:"since,omitzero"`
	// Stale says why this instance does not answer for the zone (its ring stayed behind
	// etcd's for longer than the sync timeout); "" while it answers.
	Stale string `json:"stale,omitempty"`
}

// Revisions returns the revisions of the ring served.
func (z ZoneServed) Revisions() keymgr.Revisions {
	return keymgr.Revisions{State: statestore.Revision(z.StateRevision), Premade: statestore.Revision(z.PremadeRevision)}
}

// self returns what this instance serves now.
func (n *Node) self() Instance {
	in := Instance{Name: n.cfg.Name, Addr: n.cfg.Addr, Leader: n.Leading(), Zones: map[string]ZoneServed{}}
	var serials map[string]uint32
	if n.cfg.Serials != nil {
		serials = n.cfg.Serials()
	}
	stale := n.Stale()
	for _, zone := range n.cfg.Manager.Zones() {
		sv, err := n.cfg.Manager.Served(zone)
		if err != nil {
			continue
		}
		in.Zones[zone] = ZoneServed{StateRevision: int64(sv.State), PremadeRevision: int64(sv.Premade), Serial: serials[zone],
			Since: sv.Since.UTC(), Stale: stale[zone]}
	}
	if in.Leader {
		in.Syncs = n.Syncs()
	}
	return in
}

// report publishes what this instance serves under a key bound to its own lease (it
// disappears when the instance does), when it changes and at least every ten seconds.
func (n *Node) report(ctx context.Context) { n.sessions(ctx, "start a presence session", n.publish) }

func (n *Node) publish(ctx context.Context, sess *concurrency.Session) {
	tick := time.NewTicker(reportEvery)
	defer tick.Stop()
	var last []byte
	var at time.Time
	for {
		in := n.self()
		b, _ := json.Marshal(Instance{Name: in.Name, Addr: in.Addr, Leader: in.Leader, Zones: in.Zones, Syncs: in.Syncs})
		if string(b) != string(last) || time.Since(at) > 10*reportEvery {
			in.Updated = n.cfg.Now().UTC()
			v, _ := json.Marshal(in)
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := n.cfg.Client.Put(pctx, n.instanceKey(), string(v), clientv3.WithLease(sess.Lease()))
			cancel()
			n.failed("publish this instance", err)
			if err == nil {
				last, at = b, time.Now()
			}
		}
		select {
		case <-tick.C:
		case <-n.poked:
		case <-sess.Done():
			return
		case <-ctx.Done():
			return
		}
	}
}

// errNoLeader: no instance holds the election.
var errNoLeader = errors.New("no key leader")

// leaderName reads the election's current winner: the oldest candidate key.
func leaderName(ctx context.Context, cli *clientv3.Client, prefix string) (string, error) {
	resp, err := cli.Get(ctx, prefix+"leader", append(clientv3.WithFirstCreate(), clientv3.WithPrefix())...)
	if err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return "", errNoLeader
	}
	return string(resp.Kvs[0].Value), nil
}

// ClientConfig is how an instance reaches etcd.
type ClientConfig struct {
	Endpoints          []string
	Username, Password string
	TLS                *tls.Config
}

// NewClient returns an etcd client for an instance. It reconnects within a couple of seconds
// of etcd coming back (gRPC's default back-off grows to two minutes, which would keep an
// instance on an old ring long after an outage), and never blocks on the first connection:
// a start while etcd is down serves from the local copies.
func NewClient(c ClientConfig) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: c.Endpoints, Username: c.Username, Password: c.Password, TLS: c.TLS,
		DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoffcfg.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd client: %w", err)
	}
	return cli, nil
}
