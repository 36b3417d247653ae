package keymgr

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/signetdns/signet/internal/etcdtest"
	etcdkeys "github.com/signetdns/signet/keystore/etcd"
	"github.com/signetdns/signet/keystore/memory"
	filestate "github.com/signetdns/signet/statestore/file"
)

// BenchmarkStepOrphansEtcd measures the loop's step that drops every zone's orphans (a
// leader's first step after a start) with the ZSKs in a real etcd keystore, whose List reads
// every key of the cluster, and the KSKs in a memory store (a cluster keeps them in each
// instance's own). SIGNET_BENCH_ZONES sets the number of zones (default 2,000).
func BenchmarkStepOrphansEtcd(b *testing.B) {
	n := 2000
	if v := os.Getenv("SIGNET_BENCH_ZONES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	c := etcdtest.Start(b, 1)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	ks, err := etcdkeys.Open(etcdkeys.Options{Client: c.Client(b), Prefix: "/signet/bench/",
		Recipients: []age.Recipient{id.Recipient()}, Identities: []age.Identity{id}})
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	state, err := filestate.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	m, err := New(Config{State: state, Soft: ks, TPM: memory.New(),
		Now: func() time.Time { return now }, KSKCheckInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("b%05d.example.test.", i)
	}
	for i, err := range addZones(m, names, 8) {
		if err != nil {
			b.Fatalf("zone %s: %v", names[i], err)
		}
	}
	ctx := context.Background()
	m.Step(ctx, now)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b.ResetTimer()
	before := cpu()
	for range b.N {
		for _, z := range m.all() {
			z.orphans.Store(true)
		}
		m.Step(ctx, now)
	}
	// This process's CPU (user+sys; etcd's own is not counted) per step.
	b.ReportMetric(float64((cpu()-before).Milliseconds())/float64(b.N), "cpu-ms/step")
}
