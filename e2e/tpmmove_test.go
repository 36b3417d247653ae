package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
	"github.com/signetdns/signet/keystore/tpm/tpmtest"
)

// TestTPMMove moves a zone whose KSK is sealed in a TPM to a machine with another TPM, as
// the README's "A new machine means a KSK rollover" describes: the state directory is copied,
// the old KSK cannot be loaded there (ACTION_NEEDED, pre-made signatures served), a
// successor is made INACTIVE in the new TPM, its DS is added at the parent beside the old
// one, and once the parent's DS TTL has passed activating it swaps the DNSKEY RRset to it in
// one step (double-DS). unbound, trusting only the parent's DS, validates at every step.
func TestTPMMove(t *testing.T) {
	resolvertest.RequireTool(t, "unbound")
	const (
		parentZone = "example.test."
		childZone  = "signed.example.test."
		www        = "www.signed.example.test."
	)
	dir := t.TempDir()
	parent := &parentFile{path: copyZone(t, dir, "example.test.zone")}
	child := copyZone(t, dir, "signed.example.test.zone")
	parent.setDS(t)

	// The parent: another server, software keys.
	p := startSignet(t, "", "--dnssec", "--zone", parentZone+"="+parent.path)
	anchor := p.ds(t, parentZone)

	childConfig := func(device string) string {
		cfg := filepath.Join(t.TempDir(), "signet.yaml")
		y := fmt.Sprintf(`keystore:
  tpm:
    device: %s
dnssec:
  ksk_check_interval: 1s
  ksk_retry_min: 1s
  parent_ds_ttl: 2s
  parent_propagation: 1s
  dnskey_ttl: 1
zones:
  - origin: %s
    file: %s
    parents: ["%s"]
`, device, childZone, child, p.Addr)
		if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	// The old machine: KSK in its TPM, signed, DS at the parent.
	tpmA := tpmtest.StartSWTPM(t)
	c := startSignet(t, "", "--config", childConfig(tpmA.Addr()))
	w := walk{t, c}
	w.cli("ksk", "create", childZone, "ksk1")
	w.cli("dnssec", "enable", childZone)
	ds1 := c.ds(t, childZone)
	parent.setDS(t, ds1)
	p.run(t, "reload")
	u := resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
		Stubs:   map[string]string{parentZone: unboundAt(p.Addr), childZone: unboundAt(c.Addr)},
		Anchors: []string{anchor},
	})
	expectAnswer(t, u, "old machine", www, true, "192.0.2.161")

	// The move: the state directory copied, the old server stopped, a new TPM.
	c.stop(t)
	state2 := filepath.Join(t.TempDir(), "state")
	if out, err := exec.Command("cp", "-a", c.State, state2).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	os.Remove(filepath.Join(state2, "admin.sock"))
	tpmB := tpmtest.StartSWTPM(t)
	c2 := startSignet(t, state2, "--config", childConfig(tpmB.Addr()))
	w = walk{t, c2}
	u2 := resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
		Stubs:   map[string]string{parentZone: unboundAt(p.Addr), childZone: unboundAt(c2.Addr)},
		Anchors: []string{anchor},
	})
	ksk1 := waitStatus(t, c2, childZone, "ksk1", "ACTION_NEEDED", 10*time.Second)
	if !strings.Contains(ksk1, "different TPM") {
		t.Errorf("ksk1 on the new machine: %s", ksk1)
	}
	expectAnswer(t, u2, "new machine, pre-made signatures", www, true, "192.0.2.161")

	// A successor beside it would need the lost key's signature; an INACTIVE one does not.
	w.refused("InvalidKeySigningKeyStatus", "ksk", "create", childZone, "ksk2")
	if out := w.cli("ksk", "create", childZone, "ksk2", "--status", "INACTIVE"); !strings.Contains(out, "tpm") {
		t.Fatalf("ksk2 not in the TPM:\n%s", out)
	}
	ksk2 := w.ksks(childZone)["ksk2"]
	if ksk2.Status != "INACTIVE" || ksk2.DSZoneFile == "" {
		t.Fatalf("ksk2: %+v", ksk2)
	}
	// Not at the parent yet: refused.
	if out := w.refused("InvalidKeySigningKeyStatus", "ksk", "activate", childZone, "ksk2"); !strings.Contains(out, "add it at the parent") {
		t.Errorf("activation before the DS is at the parent:\n%s", out)
	}
	// Both DS records at the parent: refused until the parent's propagation and DS TTL pass.
	parent.setDS(t, ds1, ksk2.DSZoneFile)
	p.run(t, "reload")
	seen := time.Now()
	if out := w.refused("InvalidKeySigningKeyStatus", "ksk", "activate", childZone, "ksk2"); !strings.Contains(out, "activate ksk2 again then") {
		t.Errorf("activation within the parent's DS TTL:\n%s", out)
	}
	expectAnswer(t, u2, "DS of both KSKs at the parent", www, true, "192.0.2.161")
	time.Sleep(time.Until(seen.Add(3*time.Second + 200*time.Millisecond)))
	w.cli("ksk", "activate", childZone, "ksk2")

	// The DNSKEY RRset now holds ksk2 (and no longer the lost ksk1), signed by ksk2.
	r := c2.query(t, childZone, dns.TypeDNSKEY, true)
	tags, sigs := dnskeyTags(r), sigTags(r)
	if !tags[uint16(ksk2.KeyTag)] || tags[uint16(w.ksks(childZone)["ksk1"].KeyTag)] || !sigs[uint16(ksk2.KeyTag)] {
		t.Fatalf("DNSKEY RRset after the takeover, want ksk2 %d alone, signing:\n%v", ksk2.KeyTag, r)
	}
	if st := w.ksks(childZone); st["ksk1"].Status != "INACTIVE" || st["ksk2"].Status != "ACTIVE" {
		t.Fatalf("after the takeover: ksk1 %s, ksk2 %s", st["ksk1"].Status, st["ksk2"].Status)
	}
	expectAnswer(t, u2, "ksk2 signs, both DS at the parent (cached DNSKEY)", www, true, "192.0.2.161")
	u2.Flush(t)
	expectAnswer(t, u2, "ksk2 signs, both DS at the parent", www, true, "192.0.2.161")
	if r := u2.Query(t, childZone, dns.TypeDNSKEY); r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
		t.Fatalf("DNSKEY signed by ksk2 alone does not validate:\n%v", r)
	}
	// The old DS goes, and the lost key with it.
	parent.setDS(t, ksk2.DSZoneFile)
	p.run(t, "reload")
	w.cli("ksk", "delete", childZone, "ksk1")
	u2.Flush(t)
	expectAnswer(t, u2, "only ksk2's DS at the parent", www, true, "192.0.2.161")
	w.cli("dnssec", "status", childZone)
}

// waitStatus polls `signet ksk list` until the KSK named name has status want, and returns
// its line.
func waitStatus(t *testing.T, s *signet, zone, name, want string, limit time.Duration) string {
	t.Helper()
	start := time.Now()
	for {
		out := s.run(t, "ksk", "list", zone)
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == name && f[1] == want {
				return line
			}
		}
		if time.Since(start) > limit {
			t.Fatalf("KSK %s not %s after %v:\n%s", name, want, limit, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
