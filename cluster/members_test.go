package cluster

import (
	"context"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore/memory"
)

// TestMembersAdded: members added after the keys exist serve the zone without a ZSK
// rollover, once the leader has encrypted the keys to them: ns2 after the leader's
// recipients are reloaded, ns3 after a new leader (ns2, configured with ns3's recipient) is
// elected. Until then they cannot build the ring; afterwards every instance serves the
// DNSKEY RRset the first leader made, and signs verifiably with it.
func TestMembersAdded(t *testing.T) {
	c := etcdtest.Start(t, 1)
	a, b, cc := mustIdentity(t), mustIdentity(t), mustIdentity(t)
	all := []age.Recipient{a.Recipient(), b.Recipient(), cc.Recipient()}
	ksk := memory.New()
	// No ZSK rollover in the test's time (the default 30-day lifetime).
	still := keymgr.ZonePolicy{QuickStart: true, DNSKEYTTL: time.Second, MaxZoneTTL: func() time.Duration { return time.Second }}
	ns1 := startWith(t, c, "ns1", t.TempDir(), a, []age.Recipient{a.Recipient()}, ksk, still)
	want := waitServed(t, ns1, "", 15*time.Second)

	ns2 := startWith(t, c, "ns2", t.TempDir(), b, all, ksk, still)
	time.Sleep(2 * time.Second) // ns2 tries (it syncs every second) and cannot decrypt the ZSK
	if got, err := served(ns2, time.Now()); err == nil {
		t.Fatalf("ns2 serves before the keys are encrypted to it:\n%s", got)
	}
	// ns1's configuration now lists ns2: reloaded, the leader encrypts the keys again.
	if err := ns1.keys.SetRecipients([]age.Recipient{a.Recipient(), b.Recipient()}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := ns1.keys.Reencrypt(ctx); n != 1 || err != nil {
		t.Fatalf("the leader's Reencrypt: %d keys, %v; want the ZSK", n, err)
	}
	waitServed(t, ns2, want, 5*time.Second)

	// ns3 joins; the leader crashes, ns2 (the older candidate) leads and, configured with
	// ns3's recipient, encrypts the keys to it on being elected.
	ns3 := startWith(t, c, "ns3", t.TempDir(), cc, all, ksk, still)
	ns1.stop()
	for end := time.Now().Add(10 * time.Second); !ns2.node.Leading(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("ns2 not elected 10 s after ns1 crashed")
		}
	}
	waitServed(t, ns3, want, 5*time.Second)
	waitServed(t, ns2, want, time.Second)
}

// waitServed waits up to d for in to serve a verifying ring, with the DNSKEY RRset want
// unless it is "", and returns the RRset.
func waitServed(t *testing.T, in *instance, want string, d time.Duration) string {
	t.Helper()
	var got string
	var err error
	for end := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		got, err = served(in, time.Now())
		if err == nil && (want == "" || got == want) {
			return got
		}
		if time.Now().After(end) {
			t.Fatalf("%s after %v: %v\n%s\nwant\n%s", in.name, d, err, got, want)
		}
	}
}
