package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/keymgr"
	etcdkeys "github.com/signetdns/signet/keystore/etcd"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/signer"
	etcdstate "github.com/signetdns/signet/statestore/etcd"
	filestate "github.com/signetdns/signet/statestore/file"
)

const (
	zone   = "example.test."
	prefix = "/signet/test/"
)

// instance is one Signet of the cluster, in process: its own etcd client, stores and key
// manager.
type instance struct {
	name   string
	cli    *clientv3.Client
	keys   *etcdkeys.Store
	mgr    *keymgr.Manager
	node   *Node
	cancel context.CancelFunc
	done   chan struct{}
}

// policy rolls the ZSK every few seconds of real time.
var policy = keymgr.ZonePolicy{QuickStart: true, DNSKEYTTL: time.Second,
	MaxZoneTTL: func() time.Duration { return time.Second },
	Rollover:   rollover.Policy{ZSKLifetime: 4 * time.Second, PropagationDelay: 200 * time.Millisecond}}

// start runs an instance. ksk is the KSK store every instance that may lead shares (a KSK
// file copied to each, in production); ids are the cluster's identities (one per instance).
func start(t testing.TB, c *etcdtest.Cluster, name, dir string, id *age.X25519Identity, recipients []age.Recipient, ksk *memory.Store) *instance {
	t.Helper()
	return startWith(t, c, name, dir, id, recipients, ksk, policy)
}

// startWith is start with the zone's policy pol.
func startWith(t testing.TB, c *etcdtest.Cluster, name, dir string, id *age.X25519Identity, recipients []age.Recipient, ksk *memory.Store, pol keymgr.ZonePolicy) *instance {
	t.Helper()
	cli, err := NewClient(ClientConfig{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	shared := etcdstate.New(cli, prefix)
	local, err := filestate.Open(filepath.Join(dir, "zones"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := etcdkeys.Open(etcdkeys.Options{Client: cli, Prefix: prefix, Recipients: recipients, Identities: []age.Identity{id},
		CacheDir: filepath.Join(dir, "keys")})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := keymgr.New(keymgr.Config{State: shared, Local: local, Soft: keys, LocalKSK: ksk, KSKCheckInterval: -1, KSKRetryMin: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	node, err := New(Config{Name: name, Client: cli, Prefix: prefix, Manager: mgr, Shared: shared,
		Guarded: []Guarded{shared, keys}, LeaseTTL: 2 * time.Second, Resync: time.Second,
		OnLead: func(ctx context.Context) {
			if _, err := keys.Reencrypt(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("%s: Reencrypt on becoming the leader: %v", name, err)
			}
		},
		KeyChanges: keys.Changes})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := mgr.AddZone(ctx, zone, pol); err != nil {
		t.Fatal(err)
	}
	in := &instance{name: name, cli: cli, keys: keys, mgr: mgr, node: node, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(in.done); node.Run(ctx) }()
	t.Cleanup(in.stop)
	return in
}

// stop ends the instance as a crash would for etcd: its client is closed, so its leases are
// not revoked but run out.
func (in *instance) stop() {
	in.cli.Close()
	in.cancel()
	<-in.done
}

// served returns the DNSKEY RRset the instance serves, and checks its ring signs verifiably.
func served(in *instance, now time.Time) (string, error) {
	ring, _, ok := in.mgr.Signing(zone)
	if !ok {
		return "", fmt.Errorf("%s: zone not signed", in.name)
	}
	var keys []string
	for _, rr := range ring.DNSKEYs() {
		keys = append(keys, rr.String())
	}
	slices.Sort(keys)
	return strings.Join(keys, "\n"), verify(ring, now)
}

// verify signs the DNSKEY RRset and an A RRset with the ring and checks the signatures.
func verify(ring *signer.KeyRing, now time.Time) error {
	s := signer.New(signer.Config{})
	soa, _ := dns.NewRR(zone + " 3600 IN SOA ns. host. 1 3600 600 86400 300")
	a, _ := dns.NewRR("www." + zone + " 300 IN A 192.0.2.1")
	for _, q := range []struct {
		name string
		typ  uint16
		set  []dns.RR
	}{{zone, dns.TypeDNSKEY, ring.DNSKEYs()}, {"www." + zone, dns.TypeA, []dns.RR{a}}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.typ)
		m.Answer = append(m.Answer, q.set...)
		in := &signer.Input{Zone: zone, Kind: signer.Answer, QName: q.name, QType: q.typ, Name: q.name, SOA: soa.(*dns.SOA), DO: true}
		if err := s.Sign(m, in, ring, now); err != nil {
			return fmt.Errorf("sign %s: %w", dns.TypeToString[q.typ], err)
		}
		signed := 0
		for _, rr := range m.Answer {
			sig, ok := rr.(*dns.RRSIG)
			if !ok {
				continue
			}
			for _, k := range ring.DNSKEYs() {
				if dk := k.(*dns.DNSKEY); dk.KeyTag() == sig.KeyTag {
					if err := sig.Verify(dk, q.set); err != nil {
						return fmt.Errorf("%s RRSIG by %d: %w", dns.TypeToString[q.typ], sig.KeyTag, err)
					}
					signed++
				}
			}
		}
		if signed == 0 {
			return fmt.Errorf("no verifiable RRSIG over %s", dns.TypeToString[q.typ])
		}
	}
	return nil
}

// TestCluster: three instances on a three-member etcd. One is elected and makes the keys;
// all three serve the same verifying ring while the ZSK rolls; the leader crashes (its lease
// runs out) and another takes over within the lease TTL and goes on rolling; one etcd member
// is stopped and started; Status shows the instances and the leader. At every sample the
// live instances serve the same DNSKEY RRset, or do again within a second.
func TestCluster(t *testing.T) {
	c := etcdtest.Start(t, 3)
	ids, recipients := identities(t, 3)
	ksk := memory.New()
	var ins []*instance
	var dirs []string
	for i := range 3 {
		dirs = append(dirs, t.TempDir())
		ins = append(ins, start(t, c, fmt.Sprintf("ns%d", i+1), dirs[i], ids[i], recipients, ksk))
	}
	leader := func(among []*instance) *instance {
		for _, in := range among {
			if in.node.Leading() {
				return in
			}
		}
		return nil
	}

	// watch samples the live instances every 100 ms for d and returns the distinct DNSKEY
	// RRsets seen; RRsets that differ between instances for more than a second fail the test.
	rrsets := map[string]bool{}
	watch := func(alive []*instance, d time.Duration) {
		t.Helper()
		var since time.Time
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			var sets []string
			for _, in := range alive {
				s, err := served(in, time.Now())
				if err != nil {
					t.Fatalf("%s: %v", in.name, err)
				}
				sets = append(sets, s)
				rrsets[s] = true
			}
			if slices.Equal(sets, slices.Repeat(sets[:1], len(sets))) {
				since = time.Time{}
				continue
			}
			if since.IsZero() {
				since = time.Now()
			} else if time.Since(since) > time.Second {
				var desc []string
				for i, in := range alive {
					st, pm, _ := in.mgr.Revision(zone)
					desc = append(desc, fmt.Sprintf("%s (leading %v, revisions %d/%d):\n%s", in.name, in.node.Leading(), st, pm, sets[i]))
				}
				t.Fatalf("the instances serve different DNSKEY RRsets for over a second:\n%s", strings.Join(desc, "\n"))
			}
		}
	}

	deadline := time.Now().Add(15 * time.Second)
	for leader(ins) == nil || !signed(ins) {
		if time.Now().After(deadline) {
			t.Fatal("no leader signing the zone at every instance after 15 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	first := leader(ins)
	watch(ins, 6*time.Second) // a ZSK rollover
	if len(rrsets) < 2 {
		t.Fatalf("%d DNSKEY RRsets in 6 s, want the ZSK rollover's", len(rrsets))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := ReadStatus(ctx, ins[0].cli, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != first.name || len(st.Instances) != 3 || len(st.Members) != 3 {
		t.Fatalf("status: leader %q (want %q), %d instances, %d etcd members", st.Leader, first.name, len(st.Instances), len(st.Members))
	}

	// The leader crashes: another takes over within the lease TTL (2 s) and a little.
	first.stop()
	rest := slices.DeleteFunc(slices.Clone(ins), func(in *instance) bool { return in == first })
	crashed := time.Now()
	for leader(rest) == nil {
		if time.Since(crashed) > 8*time.Second {
			t.Fatal("no new leader 8 s after the leader crashed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("new leader %s after %v", leader(rest).name, time.Since(crashed).Round(10*time.Millisecond))
	before := len(rrsets)
	watch(rest, 6*time.Second)
	if len(rrsets) == before {
		t.Fatal("the new leader did not roll the ZSK")
	}

	// One etcd member down and back: the cluster keeps its quorum and goes on.
	c.Stop(c.Members[0])
	watch(rest, 2*time.Second)
	c.Restart(c.Members[0])
	watch(rest, 2*time.Second)

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err = ReadStatus(ctx, rest[0].cli, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if st.Leader != leader(rest).name || len(st.Instances) != 2 {
		t.Errorf("status after the crash: leader %q, want %q; instances %+v", st.Leader, leader(rest).name, st.Instances)
	}
	for _, in := range rest {
		if _, ok := in.mgr.Following(); ok == in.node.Leading() {
			t.Errorf("%s: leading %v but its key manager following %v", in.name, in.node.Leading(), ok)
		}
	}
	// All of etcd down: every instance keeps serving the ring it has, verifying; an instance
	// restarted meanwhile serves the same from its local copies; all goes on once etcd is back.
	restarted := rest[1]
	if restarted.node.Leading() {
		restarted = rest[0]
	}
	restarted.stop()
	c.StopAll()
	idx := slices.Index(ins, restarted)
	again := start(t, c, restarted.name, dirs[idx], ids[idx], recipients, ksk)
	rest = []*instance{rest[0], rest[1]}
	rest[slices.Index(rest, restarted)] = again
	watch(rest, 3*time.Second)
	c.StartAll()
	n := len(rrsets)
	watch(rest, 8*time.Second)
	if len(rrsets) == n {
		t.Error("no ZSK rollover in 8 s after etcd came back")
	}

	follower := rest[0]
	if follower.node.Leading() {
		follower = rest[1]
	}
	err = follower.mgr.CreateKSK(context.Background(), zone, "nope", keymgr.StatusInactive)
	if keymgr.ErrorCode(err) != keymgr.CodeServiceUnavailable || !strings.Contains(err.Error(), leader(rest).name) {
		t.Errorf("a follower's CreateKSK: %v, want ServiceUnavailable naming the leader %s", err, leader(rest).name)
	}
}

func signed(ins []*instance) bool {
	for _, in := range ins {
		if _, _, ok := in.mgr.Signing(zone); !ok {
			return false
		}
	}
	return true
}

// identities returns n new age identities and their recipients, one per cluster member.
func identities(t testing.TB, n int) ([]*age.X25519Identity, []age.Recipient) {
	t.Helper()
	var ids []*age.X25519Identity
	var recipients []age.Recipient
	for range n {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		ids, recipients = append(ids, id), append(recipients, id.Recipient())
	}
	return ids, recipients
}
