package cluster

import (
	"context"
	"slices"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore/memory"
	filestate "github.com/signetdns/signet/statestore/file"
)

// threeInstances starts a one-member etcd and three in-process instances and waits until the
// zone is signed at each.
func threeInstances(b *testing.B) []*instance {
	c := etcdtest.Start(b, 1)
	var ids []*age.X25519Identity
	var recipients []age.Recipient
	for range 3 {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			b.Fatal(err)
		}
		ids, recipients = append(ids, id), append(recipients, id.Recipient())
	}
	ksk := memory.New()
	var ins []*instance
	for i := range 3 {
		ins = append(ins, start(b, c, []string{"ns1", "ns2", "ns3"}[i], b.TempDir(), ids[i], recipients, ksk))
	}
	for deadline := time.Now().Add(20 * time.Second); !signed(ins); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("zone not signed at every instance")
		}
	}
	return ins
}

// BenchmarkRingPropagation measures, for each new ring the leader serves (the ZSK rolls
// every few seconds), the time from the leader serving it to every follower serving it:
// the median and 99th percentile are reported as ms-median and ms-p99. Run it with a count
// of rings: go test -run '^$' -bench RingPropagation -benchtime 20x ./cluster/
func BenchmarkRingPropagation(b *testing.B) {
	ins := threeInstances(b)
	var lags []time.Duration
	for b.Loop() {
		var lead *instance
		for lead == nil {
			for _, in := range ins {
				if in.node.Leading() {
					lead = in
				}
			}
			time.Sleep(time.Millisecond)
		}
		old, _, _ := lead.mgr.Signing(zone)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
			if r, _, _ := lead.mgr.Signing(zone); r != old {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the leader served no new ring in 30 s")
			}
		}
		served := time.Now()
		want := keysOf(lead.mgr)
		for _, in := range ins {
			for in != lead && keysOf(in.mgr) != want {
				if time.Since(served) > 10*time.Second {
					b.Fatalf("%s did not serve the leader's ring in 10 s", in.name)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		lags = append(lags, time.Since(served))
	}
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "ms-p99")
}

func keysOf(m *keymgr.Manager) string {
	ring, _, ok := m.Signing(zone)
	if !ok {
		return ""
	}
	s := ""
	for _, rr := range ring.DNSKEYs() {
		s += rr.String()
	}
	return s
}

// BenchmarkSigningLookup is what the query path asks of the key manager for every signed
// answer (Signing), at a single server and at a cluster follower: the same lock-free read,
// with no etcd on the query path, so the answer rate does not drop in cluster mode.
func BenchmarkSigningLookup(b *testing.B) {
	ins := threeInstances(b)
	var follower *instance
	for _, in := range ins {
		if !in.node.Leading() {
			follower = in
		}
	}
	local, err := filestate.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	single, err := keymgr.New(keymgr.Config{State: local, Soft: memory.New()})
	if err != nil {
		b.Fatal(err)
	}
	if err := single.AddZone(context.Background(), zone, keymgr.ZonePolicy{QuickStart: true}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		m    *keymgr.Manager
	}{{"single", single}, {"follower", follower.mgr}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := c.m.Signing(zone); !ok {
					b.Fatal("not signed")
				}
			}
		})
	}
}
