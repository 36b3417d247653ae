package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/keystore/memory"
)

// TestDamagedStateOneZone: a follower serving two zones whose key state in etcd is damaged
// for one (a value that does not decode) keeps serving both (the damaged one with the ring it
// had), and does not report etcd down or count etcd errors for it: etcd answered.
func TestDamagedStateOneZone(t *testing.T) {
	const other = "other.test."
	c := etcdtest.Start(t, 1)
	ids, recipients := identities(t, 2)
	ksk := memory.New()
	ctx := context.Background()
	a := start(t, c, "ns1", t.TempDir(), ids[0], recipients, ksk)
	waitUntil(t, 10*time.Second, "ns1 leads and signs", func() bool {
		_, _, ok := a.mgr.Signing(zone)
		return a.node.Leading() && ok
	})
	if err := a.mgr.AddZone(ctx, other, policy); err != nil {
		t.Fatal(err)
	}
	b := start(t, c, "ns2", t.TempDir(), ids[1], recipients, ksk)
	if err := b.mgr.AddZone(ctx, other, policy); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "ns2 follows and serves both zones", func() bool {
		_, _, ok1 := b.mgr.Signing(zone)
		_, _, ok2 := b.mgr.Signing(other)
		return !b.node.Leading() && ok1 && ok2 && b.node.EtcdUp()
	})
	errs := b.node.EtcdErrors()
	if _, err := a.cli.Put(ctx, prefix+"zones/"+other+"/state", "{damaged"); err != nil {
		t.Fatal(err)
	}
	// The watch reports the change at once; Resync (1 s) reads every zone again.
	for end := time.Now().Add(2500 * time.Millisecond); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !b.node.EtcdUp() {
			t.Fatal("ns2 reports etcd down for one zone's damaged state")
		}
	}
	if n := b.node.EtcdErrors() - errs; n != 0 {
		t.Errorf("ns2 counted %d etcd errors for one zone's damaged state", n)
	}
	for _, z := range []string{zone, other} {
		if _, _, ok := b.mgr.Signing(z); !ok {
			t.Errorf("ns2 no longer serves %s", z)
		}
	}
}

// waitUntil polls cond every 50 ms until it holds, failing the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}
