package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/miekg/dns"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/admin/client"
	"github.com/signetdns/signet/cluster"
	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/internal/resolvertest"
)

// clusterLab is three Signet instances on 127.0.0.21-23 (one port) sharing a three-member
// etcd, serving a parent and a signed child, and an unbound whose stubs list all three.
type clusterLab struct {
	etcd      *etcdtest.Cluster
	ins       []*signet
	dir       string
	u         *resolvertest.Unbound
	parent    string   // the parent zone file
	parentRRs []dns.RR // the parent zone without the child's DS
	dsChanges atomic.Int64
	// proc is held while an instance is killed or started, and while the registrar signals
	// them, so that a SIGHUP never goes to a process being replaced.
	proc sync.Mutex
}

// setDS writes the parent zone with ds as the child's DS RRset and a new serial; every
// instance reloads the file when it changes.
func (l *clusterLab) setDS(ds []dns.RR) error {
	rrs := slices.Clone(l.parentRRs)
	for i, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			c := *soa
			c.Serial = uint32(time.Now().UnixNano() / 1e6)
			rrs[i] = &c
		}
	}
	if err := writeZone(l.parent, append(rrs, ds...)); err != nil {
		return err
	}
	// Each instance also watches the file; the SIGHUP covers one restarted between its load
	// of the file and the start of its watch.
	l.proc.Lock()
	defer l.proc.Unlock()
	for _, s := range l.ins {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGHUP)
		}
	}
	return nil
}

// registrar follows the child's CDS as a registry does (RFC 7344 §6.1): it asks the
// instances in turn and, when the CDS RRset differs from the DS RRset it published, makes
// it the parent's DS RRset.
func (l *clusterLab) registrar(ctx context.Context, have string) {
	for i := 0; ctx.Err() == nil; i++ {
		time.Sleep(500 * time.Millisecond)
		m := new(dns.Msg)
		m.SetQuestion("signed.example.test.", dns.TypeCDS)
		c := &dns.Client{Timeout: 500 * time.Millisecond}
		r, _, err := c.Exchange(m, l.ins[i%len(l.ins)].Addr)
		if err != nil || r.Rcode != dns.RcodeSuccess {
			continue // a killed instance
		}
		var ds []dns.RR
		var keys []string
		for _, rr := range r.Answer {
			if cds, ok := rr.(*dns.CDS); ok && cds.Algorithm != 0 {
				d := cds.DS
				d.Hdr = dns.RR_Header{Name: "signed.example.test.", Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: 2}
				ds, keys = append(ds, &d), append(keys, d.Digest)
			}
		}
		slices.Sort(keys)
		if len(ds) == 0 || strings.Join(keys, " ") == have {
			continue
		}
		if err := l.setDS(ds); err == nil {
			have = strings.Join(keys, " ")
			l.dsChanges.Add(1)
		}
	}
}

// clusterConfig is an instance's configuration: the child's ZSK rolls every 8 s, its KSK
// 45 s after its creation (automatic, the parents being the three instances).
func clusterConfig(name, addr, parent, child, pass, idFile string, recipients, endpoints, parents []string) string {
	return fmt.Sprintf(`listen: ["%s"]
keystore:
  passphrase_file: %s
  work_factor: 10
dnssec:
  enabled: true
  dnskey_ttl: 1
  zsk_lifetime: 8s
  ksk_lifetime: 45s
  propagation_delay: 1s
  parent_ds_ttl: 2s
  parent_propagation: 1s
  ds_check_interval: 1s
  ds_wait_limit: 1m
reload:
  debounce: 100ms
zones:
  - origin: example.test.
    file: %s
  - origin: signed.example.test.
    file: %s
    ksk_rollover: automatic
    parents: [%s]
cluster:
  name: %s
  id: lab
  lease_ttl: 2s
  sync_timeout: 500ms
  etcd:
    endpoints: [%s]
  recipients: [%s]
  identity_file: %s
`, addr, pass, parent, child, strings.Join(parents, ", "), name, strings.Join(endpoints, ", "), strings.Join(recipients, ", "), idFile)
}

func startClusterLab(t *testing.T) *clusterLab {
	t.Helper()
	resolvertest.RequireTool(t, "unbound")
	l := &clusterLab{etcd: etcdtest.Start(t, 3), dir: t.TempDir()}
	var parent []dns.RR
	for _, rr := range tinyZone(t, "example.test.zone", 2) {
		if rr.Header().Rrtype != dns.TypeDS {
			parent = append(parent, rr) // the child's DS comes once its KSK exists
		}
	}
	l.parent, l.parentRRs = filepath.Join(l.dir, "example.test.zone"), parent
	child := filepath.Join(l.dir, "signed.example.test.zone")
	if err := writeZone(l.parent, parent); err != nil {
		t.Fatal(err)
	}
	if err := writeZone(child, tinyZone(t, "signed.example.test.zone", 2)); err != nil {
		t.Fatal(err)
	}
	pass := filepath.Join(l.dir, "passphrase")
	if err := os.WriteFile(pass, []byte("a cluster's shared KSK passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var recipients []string
	for range 3 {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		ids, recipients = append(ids, id.String()), append(recipients, id.Recipient().String())
	}
	port := resolvertest.FreePort(t, "127.0.0.21")
	var addrs []string
	for i := range 3 {
		addrs = append(addrs, fmt.Sprintf("127.0.0.%d:%d", 21+i, port))
	}
	// The KSKs stay out of etcd, in each instance's own keystore; for any instance to lead,
	// the three share one keystore directory here (in production the operator copies the
	// KSK files, or the instances reach one HSM).
	keysDir := filepath.Join(l.dir, "ksk")
	if err := os.Mkdir(keysDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		name := fmt.Sprintf("ns%d", i+1)
		idFile := filepath.Join(l.dir, name+".age")
		if err := os.WriteFile(idFile, []byte(ids[i]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		state := filepath.Join(l.dir, name)
		if err := os.Mkdir(state, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(keysDir, filepath.Join(state, "keys")); err != nil {
			t.Fatal(err)
		}
		s := &signet{
			Addr:  addrs[i],
			Admin: fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1")),
			State: state,
		}
		cfg := filepath.Join(l.dir, name+".yaml")
		body := clusterConfig(name, s.Addr, l.parent, child, pass, idFile, recipients, l.etcd.Endpoints(), addrs)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		s.args = []string{"--config", cfg}
		s.start(t)
		t.Cleanup(func() {
			s.kill()
			if t.Failed() {
				t.Logf("%s log:\n%s", name, s.log.String())
			}
		})
		l.ins = append(l.ins, s)
	}
	return l
}

// leader returns the instance the cluster status names as the key leader ("" while none).
func (l *clusterLab) leader(t *testing.T, via *signet) *signet {
	t.Helper()
	out, _ := via.try("cluster", "status")
	for _, line := range strings.Split(out, "\n") {
		if name, ok := strings.CutPrefix(line, "key leader: "); ok {
			for i, s := range l.ins {
				if name == fmt.Sprintf("ns%d", i+1) {
					return s
				}
			}
		}
	}
	return nil
}

// dnskeys returns the child's DNSKEY RRset an instance serves as "flags:key" words, sorted
// ("" when it does not answer). A query lost or late on a loaded machine is asked again, up
// to three times, so that "no answer" means the instance does not answer.
func dnskeys(s *signet) string {
	m := new(dns.Msg)
	m.SetQuestion("signed.example.test.", dns.TypeDNSKEY)
	c := &dns.Client{Timeout: time.Second}
	var r *dns.Msg
	var err error
	for range 3 {
		if r, _, err = c.Exchange(m, s.Addr); err == nil {
			break
		}
	}
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return ""
	}
	var keys []string
	for _, rr := range r.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			keys = append(keys, fmt.Sprintf("%d:%s", k.Flags, k.PublicKey))
		}
	}
	slices.Sort(keys)
	return strings.Join(keys, " ")
}

// TestClusterThreeInstances: three instances behind one unbound that trusts only the
// parent's DS. While unbound is asked continuously, the ZSK rolls, the key leader is killed
// (kill -9) in the middle of a ZSK rollover and another takes over, the KSK rolls
// (automatic, a registrar following the CDS) and the leader is killed in the middle of that
// too, one etcd member is stopped and started, and all of etcd is stopped for 10 s. Every
// answer is validated (AD), none is SERVFAIL, and the live instances serve the same DNSKEY
// RRset (after at most a second of propagation).
func TestClusterThreeInstances(t *testing.T) {
	l := startClusterLab(t)
	// The deadlines below are generous, for a loaded 2-core machine; the test ends as soon
	// as each condition holds.
	deadline := time.Now().Add(60 * time.Second)
	var lead *signet
	for lead == nil || dnskeys(l.ins[0]) == "" || dnskeys(l.ins[1]) == "" || dnskeys(l.ins[2]) == "" {
		if time.Now().After(deadline) {
			t.Fatal("no leader serving the signed zone at every instance after 60 s")
		}
		time.Sleep(200 * time.Millisecond)
		lead = l.leader(t, l.ins[0])
	}
	// The registrar's first step: the child's DS into the parent; later it follows the CDS.
	ds := resolvertest.ParseAnchors(t, lead.ds(t, "signed.example.test."))
	if err := l.setDS(ds); err != nil {
		t.Fatal(err)
	}
	var digests []string
	for _, rr := range ds {
		digests = append(digests, rr.(*dns.DS).Digest)
	}
	slices.Sort(digests)
	rctx, stopRegistrar := context.WithCancel(context.Background())
	defer stopRegistrar()
	go l.registrar(rctx, strings.Join(digests, " "))
	var stubs []string
	for _, s := range l.ins {
		stubs = append(stubs, unboundAt(s.Addr))
	}
	l.u = resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
		Stubs:       map[string]string{"example.test.": strings.Join(stubs, " "), "signed.example.test.": strings.Join(stubs, " ")},
		Anchors:     []string{lead.ds(t, "example.test.")},
		CacheMaxTTL: 2,
	})
	// Wait until the parent's new DS is served everywhere and validates.
	for deadline := time.Now().Add(60 * time.Second); ; {
		r := l.u.Query(t, "www.signed.example.test.", dns.TypeA)
		if r.Rcode == dns.RcodeSuccess && r.AuthenticatedData {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("www.signed.example.test. does not validate through the parent's DS: %v", r)
		}
		l.u.Flush(t)
		time.Sleep(300 * time.Millisecond)
	}

	// The resolver's load: continuously, until the end, every answer counted.
	var answers, servfail, notAD, timeouts atomic.Int64
	var bad sync.Map
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &dns.Client{Timeout: 3 * time.Second}
		names := []string{"www.signed.example.test.", "signed.example.test.", "www.example.test.", "nope.signed.example.test."}
		for i := 0; ctx.Err() == nil && i < 100000; i++ {
			q := new(dns.Msg)
			qtype := dns.TypeA
			if i%4 == 1 {
				qtype = dns.TypeDNSKEY
			}
			q.SetQuestion(names[i%4], qtype)
			q.RecursionDesired, q.AuthenticatedData = true, true
			q.SetEdns0(1232, true)
			r, _, err := c.Exchange(q, l.u.Addr)
			switch {
			case err != nil:
				timeouts.Add(1)
			case r.Rcode == dns.RcodeServerFailure:
				servfail.Add(1)
				bad.Store(time.Now().Format(time.RFC3339Nano), "SERVFAIL "+names[i%4])
			case !r.AuthenticatedData:
				notAD.Add(1)
				bad.Store(time.Now().Format(time.RFC3339Nano), "no AD "+names[i%4])
			default:
				answers.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	live := slices.Clone(l.ins)
	sets := map[string]bool{}
	// watchUntil checks every 100 ms, for at most d or until done, that the live instances
	// serve one DNSKEY RRset, or do again within a second, and collects the RRsets seen. It
	// reports whether done became true.
	watchUntil := func(d time.Duration, done func() bool) bool {
		t.Helper()
		var since time.Time
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			if done != nil && done() {
				return true
			}
			var got []string
			for _, s := range live {
				got = append(got, dnskeys(s))
			}
			for _, g := range got {
				sets[g] = true
			}
			if !slices.Contains(got, "") && slices.Equal(got, slices.Repeat(got[:1], len(got))) {
				since = time.Time{}
				continue
			}
			if since.IsZero() {
				since = time.Now()
			} else if time.Since(since) > time.Second {
				t.Fatalf("the instances serve different DNSKEY RRsets (or none) for over a second:\n%s", strings.Join(got, "\n"))
			}
		}
		return false
	}
	watch := func(d time.Duration) { watchUntil(d, nil) }
	ksks := func() []string {
		var out []string
		for _, k := range strings.Fields(dnskeys(live[0])) {
			if strings.HasPrefix(k, "257:") {
				out = append(out, k)
			}
		}
		return out
	}
	// killLeader kills the key leader with SIGKILL and waits for another to be elected.
	killLeader := func(why string) {
		t.Helper()
		var lead *signet
		for end := time.Now().Add(30 * time.Second); lead == nil; time.Sleep(100 * time.Millisecond) {
			if lead = l.leader(t, live[0]); lead == nil && time.Now().After(end) {
				t.Fatalf("no key leader to kill %s", why)
			}
		}
		l.proc.Lock()
		lead.kill()
		l.proc.Unlock()
		live = slices.DeleteFunc(live, func(s *signet) bool { return s == lead })
		killed := time.Now()
		var next *signet
		for next == nil || next == lead {
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("no new key leader 30 s after the leader was killed %s", why)
			}
			time.Sleep(100 * time.Millisecond)
			next = l.leader(t, live[0])
		}
		t.Logf("leader killed %s: new key leader %s after %v", why, next.Addr, time.Since(killed).Round(100*time.Millisecond))
		// The killed instance comes back as a follower (its state directory kept).
		l.proc.Lock()
		lead.start(t)
		l.proc.Unlock()
		live = append(live, lead)
	}

	if !watchUntil(30*time.Second, func() bool { return len(sets) >= 2 }) {
		t.Fatalf("%d DNSKEY RRsets in 30 s, want a ZSK rollover", len(sets))
	}
	// kill -9 the leader while a new ZSK is published and not yet active (two ZSKs).
	if !watchUntil(40*time.Second, func() bool { return strings.Count(dnskeys(live[0]), "256:") == 2 }) {
		t.Fatal("no ZSK rollover in progress within 40 s")
	}
	killLeader("in the middle of a ZSK rollover")
	n := len(sets)
	if !watchUntil(40*time.Second, func() bool { return len(sets) > n }) {
		t.Fatal("the new leader did not go on rolling the ZSK (no new DNSKEY RRset in 40 s)")
	}

	// The KSK rollover (automatic, 45 s after the KSK's creation): kill the leader while the
	// new KSK is published beside the old one; the new leader completes it, the registrar
	// following the CDS.
	first := ksks()
	if !watchUntil(120*time.Second, func() bool { return len(ksks()) == 2 }) {
		t.Fatal("no KSK rollover within 120 s")
	}
	killLeader("in the middle of the KSK rollover")
	if !watchUntil(120*time.Second, func() bool { k := ksks(); return len(k) == 1 && k[0] != first[0] }) {
		out := "no leader"
		if lead := l.leader(t, live[0]); lead != nil {
			out, _ = lead.try("dnssec", "status", "signed.example.test.")
		}
		t.Fatalf("the KSK rollover did not complete in 120 s: KSKs %v, first %v; the leader's status:\n%s", ksks(), first, out)
	}
	t.Logf("KSK rolled; the registrar changed the parent's DS %d times", l.dsChanges.Load())

	// One etcd member stopped and started; then all of etcd down for 10 s.
	l.etcd.Stop(l.etcd.Members[0])
	watch(3 * time.Second)
	l.etcd.Restart(l.etcd.Members[0])
	l.etcd.StopAll()
	watch(10 * time.Second)
	var out string
	var err error
	watchUntil(20*time.Second, func() bool {
		out, err = live[0].try("cluster", "status")
		return strings.Contains(out, "etcd does not answer")
	})
	t.Logf("cluster status with etcd down (%v):\n%s", err, out)
	if !strings.Contains(out, "etcd does not answer") {
		t.Errorf("the cluster status does not say that etcd is down")
	}
	// Still ready (it serves a validating ring), and /readyz says etcd is down.
	var rd admin.Readiness
	if err := client.NewUnix(filepath.Join(live[0].State, admin.SocketFile)).Do(context.Background(), "GET", admin.ReadyPath, nil, &rd); err != nil {
		t.Fatalf("/readyz with etcd down: %v", err)
	}
	if !rd.Ready || rd.Cluster == nil || rd.Cluster.EtcdUp {
		t.Errorf("/readyz with etcd down: %+v %+v, want ready and EtcdUp false", rd, rd.Cluster)
	}
	l.etcd.StartAll()
	n = len(sets)
	if !watchUntil(40*time.Second, func() bool { return len(sets) > n }) {
		t.Error("no ZSK rollover in 40 s after etcd came back")
	}
	out, _ = live[0].try("cluster", "status")
	t.Logf("cluster status at the end:\n%s", out)
	// The leader counted each ring change of the rollover since etcd came back from when
	// every live instance served it (or from the sync timeout, naming who lagged).
	var st cluster.Status
	if err := client.NewUnix(filepath.Join(live[0].State, admin.SocketFile)).Do(context.Background(), "GET", admin.ClusterPath, nil, &st); err != nil {
		t.Fatalf("GET %s: %v", admin.ClusterPath, err)
	}
	var recs []cluster.SyncRecord
	for _, in := range st.Instances {
		if in.Leader {
			recs = in.Syncs["signed.example.test."]
		}
	}
	if len(recs) == 0 {
		t.Errorf("the leader recorded no ring change of signed.example.test. as served (leader %q)", st.Leader)
	}
	for _, r := range recs {
		if lag := r.Synced.Sub(r.Committed); lag < 0 || lag > 500*time.Millisecond {
			t.Errorf("ring change %+v: served everywhere %s after the leader's change, want within the 500ms sync timeout", r, lag)
		}
	}
	stop()
	wg.Wait()
	t.Logf("%d validated answers, %d SERVFAIL, %d without AD, %d timeouts; %d DNSKEY RRsets", answers.Load(), servfail.Load(), notAD.Load(), timeouts.Load(), len(sets))
	bad.Range(func(k, v any) bool { t.Logf("%s %s", k, v); return true })
	if servfail.Load() > 0 || notAD.Load() > 0 {
		t.Errorf("%d SERVFAIL and %d answers without AD", servfail.Load(), notAD.Load())
	}
	if answers.Load() < 500 {
		t.Errorf("only %d answers", answers.Load())
	}
	// At least three whole ZSK rollovers: the first ZSK and three successors seen served.
	zsks := map[string]bool{}
	for set := range sets {
		for _, k := range strings.Fields(set) {
			if strings.HasPrefix(k, "256:") {
				zsks[k] = true
			}
		}
	}
	t.Logf("%d ZSKs served over the test", len(zsks))
	if len(zsks) < 4 {
		t.Errorf("%d ZSKs served, want the first and at least three successors", len(zsks))
	}
}
