package main

import (
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// TestClusterConfig: a cluster section needs a name, endpoints, recipients and a private
// identity file; errors name the key; a valid one gives the keys and the prefix.
func TestClusterConfig(t *testing.T) {
	dir := t.TempDir()
	zone := writeFile(t, dir, "z.zone", "$ORIGIN z.test.\n@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n", 0o644)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := writeFile(t, dir, "id.age", id.String()+"\n", 0o600)
	open := writeFile(t, dir, "open.age", id.String()+"\n", 0o644)
	base := "zones: [{origin: z.test., file: " + zone + "}]\n"
	for _, c := range []struct{ body, want string }{
		{"cluster: {name: ns1}", "cluster.etcd.endpoints"},
		{"cluster: {etcd: {endpoints: [http://127.0.0.1:2379]}}", "cluster.name"},
		{"cluster: {name: ns1, etcd: {endpoints: [http://127.0.0.1:2379]}}", "cluster.recipients"},
		{"cluster: {name: a/b, etcd: {endpoints: [x]}, recipients: [r], identity_file: f}", "no slash"},
	} {
		_, err := loadFile(writeFile(t, dir, "c.yaml", base+c.body, 0o600))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s", c.body, err, c.want)
		}
	}
	good := base + "cluster: {name: ns1, id: lab, etcd: {endpoints: [http://127.0.0.1:2379]}, recipients: [" +
		id.Recipient().String() + "], identity_file: " + idFile + "}"
	c := mustLoad(t, writeFile(t, dir, "c.yaml", good, 0o600))
	if !c.Cluster.enabled() || c.Cluster.prefix() != "/signet/lab/" || c.Cluster.LeaseTTL <= 0 {
		t.Fatalf("cluster config %+v", c.Cluster)
	}
	rcpts, ids, err := c.Cluster.ageKeys()
	if err != nil || len(rcpts) != 1 || len(ids) != 1 {
		t.Fatalf("ageKeys: %d recipients, %d identities, %v", len(rcpts), len(ids), err)
	}
	c.Cluster.IdentityFile = open
	if _, _, err := c.Cluster.ageKeys(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a world-readable identity file: %v, want a refusal", err)
	}
	c.Cluster.IdentityFile = writeFile(t, dir, "notid", "AGE-SECRET-KEY-1NOTAKEY secret material\n", 0o600)
	if _, _, err := c.Cluster.ageKeys(); err == nil || strings.Contains(err.Error(), "secret material") {
		t.Errorf("a file that is not an identity: %v, want a refusal that does not quote it", err)
	}
	if c.Cluster.SyncTimeout != 30*time.Second {
		t.Errorf("cluster.sync_timeout defaults to %s, want 30s", c.Cluster.SyncTimeout)
	}
	// The leader's wait for a laggard must fit in the propagation delay the rollover counts.
	slow := strings.Replace(good, "name: ns1,", "name: ns1, sync_timeout: 5m,", 1)
	if _, err := loadFile(writeFile(t, dir, "c.yaml", slow, 0o600)); err == nil ||
		!strings.Contains(err.Error(), "cluster.sync_timeout: 5m0s must be well under the propagation_delay of zone z.test. (5m0s)") {
		t.Errorf("sync_timeout equal to the propagation delay: %v, want a refusal naming both", err)
	}
	t.Setenv("SIGNET_CLUSTER_SYNC_TIMEOUT", "2s")
	if c := mustLoad(t, writeFile(t, dir, "c.yaml", good, 0o600)); c.Cluster.SyncTimeout != 2*time.Second {
		t.Errorf("SIGNET_CLUSTER_SYNC_TIMEOUT=2s gives %s", c.Cluster.SyncTimeout)
	}
	bad := strings.Replace(good, "name: ns1,", "name: ns1, advertise: nope,", 1)
	if _, err := loadFile(writeFile(t, dir, "c.yaml", bad, 0o600)); err == nil || !strings.Contains(err.Error(), "cluster.advertise") {
		t.Errorf("advertise without a port: %v, want a refusal naming cluster.advertise", err)
	}
	// The DNS address the peers ask: the first listen address that names a host.
	var cc clusterConfig
	if got := cc.advertised([]string{"0.0.0.0:53", "[::]:53", "192.0.2.1:53"}); got != "192.0.2.1:53" {
		t.Errorf("advertised %q, want the first specific listen address", got)
	}
	if got := cc.advertised([]string{"[::]:53"}); got != "" {
		t.Errorf("advertised %q for a wildcard listen address, want none", got)
	}
	cc.Advertise = "ns1.example.net:53"
	if got := cc.advertised([]string{"192.0.2.1:53"}); got != cc.Advertise {
		t.Errorf("advertised %q, want cluster.advertise", got)
	}
	single := mustLoad(t, writeFile(t, dir, "s.yaml", base, 0o600))
	if single.Cluster.enabled() {
		t.Error("a config without cluster: is a cluster member")
	}
}
