package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
	"github.com/signetdns/signet/keystore/tpm/tpmtest"
)

// tpmSetup is a quick-start Signet (--dnssec) serving example.test. with its KSK in a
// software TPM, and unbound trusting the zone's DS.
type tpmSetup struct {
	tpm    *tpmtest.SWTPM
	s      *signet
	u      *resolvertest.Unbound
	anchor string
}

// tpmConfig is the YAML that puts the KSKs in the TPM at device. The two dnssec keys bound
// how fast the key manager notices a KSK that cannot sign (a test signature with every
// active KSK) and retries one that failed; the defaults (minutes) suit production, not a test.
func tpmConfig(device string) string {
	return fmt.Sprintf(`keystore:
  tpm:
    device: %s
dnssec:
  ksk_check_interval: 2s
  ksk_retry_min: 1s
`, device)
}

func newTPMSetup(t *testing.T) *tpmSetup {
	t.Helper()
	resolvertest.RequireTool(t, "unbound")
	sw := tpmtest.StartSWTPM(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfg, []byte(tpmConfig(sw.Addr())), 0o600); err != nil {
		t.Fatal(err)
	}
	zone := copyZone(t, dir, "example.test.zone")
	s := startSignet(t, "", "--config", cfg, "--dnssec", "--zone", "example.test.="+zone)
	st := &tpmSetup{tpm: sw, s: s, anchor: s.ds(t, "example.test.")}
	st.u = resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
		Stubs:   map[string]string{"example.test.": unboundAt(s.Addr)},
		Anchors: []string{st.anchor},
	})
	return st
}

// ksk returns the zone's only KSK as `signet ds --json` shows it.
func (st *tpmSetup) ksk(t *testing.T) kskInfo {
	t.Helper()
	var list []struct {
		kskInfo
		KeyStore string
	}
	decodeJSON(t, st.s.run(t, "ds", "example.test.", "--json"), &list)
	if len(list) != 1 {
		t.Fatalf("want one KSK, got %+v", list)
	}
	if list[0].KeyStore != "tpm" {
		t.Fatalf("quick-start KSK is in %q, want the TPM", list[0].KeyStore)
	}
	return list[0].kskInfo
}

// validates flushes unbound and checks that answers from example.test. validate.
func (st *tpmSetup) validates(t *testing.T, step string) {
	t.Helper()
	st.u.Flush(t)
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"www.example.test.", dns.TypeA}, {"example.test.", dns.TypeDNSKEY}, {"missing.example.test.", dns.TypeA}} {
		r := st.u.Query(t, q.name, q.qtype)
		if r.Rcode == dns.RcodeServerFailure || !r.AuthenticatedData {
			t.Fatalf("%s: %s %s: rcode %s AD=%v, want a validated answer\n%v", step, q.name,
				dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], r.AuthenticatedData, r)
		}
	}
}

// waitKSK polls the KSK's status every 250 ms until it is want, failing the test after limit.
func (st *tpmSetup) waitKSK(t *testing.T, want string, limit time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		k := st.ksk(t)
		if k.Status == want {
			t.Logf("KSK %s after %v:\n%s", want, time.Since(start).Round(time.Millisecond),
				st.s.run(t, "dnssec", "status", "example.test."))
			return
		}
		if time.Since(start) > limit {
			t.Fatalf("KSK still %s after %v, want %s:\n%s", k.Status, limit, want,
				st.s.run(t, "dnssec", "status", "example.test."))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestTPMRestart restarts both the server and the TPM simulator: the KSK is reloaded from
// its TPM blobs (the same DNSKEY), the new process signs with it, and answers validate.
func TestTPMRestart(t *testing.T) {
	st := newTPMSetup(t)
	before := st.ksk(t)
	st.validates(t, "first start")

	st.s.stop(t)
	st.tpm.Stop()
	st.tpm.Start()
	st.s.start(t)

	after := st.ksk(t)
	if after.DNSKEYRecord != before.DNSKEYRecord || after.Status != "ACTIVE" {
		t.Fatalf("KSK after restart %+v, want the same ACTIVE key as before %+v", after, before)
	}
	if ds := st.s.ds(t, "example.test."); ds != st.anchor {
		t.Fatalf("DS after restart %q, want %q", ds, st.anchor)
	}
	// A fresh process: every TPM signature it counts was made with the reloaded key. It
	// serves the saved pre-made signatures at once and proves the key right after the start.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		n := metric(t, scrape(t, st.s), "signet_signatures_made_total", "backend", "tpm")
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted server made %v TPM signatures in 10 s, want its proof of the KSK", n)
		}
	}
	r := st.s.query(t, "example.test.", dns.TypeDNSKEY, true)
	if !sigTags(r)[uint16(before.KeyTag)] {
		t.Fatalf("DNSKEY RRset not signed by the reloaded KSK %d:\n%v", before.KeyTag, r)
	}
	st.validates(t, "after restarting signet and the TPM")
}

// TestTPMOutage kills the TPM simulator under a running server: the zone keeps validating
// with the pre-made DNSKEY signatures, the KSK turns ACTION_NEEDED (and the metrics say so),
// and it turns ACTIVE again by itself once the TPM is back.
func TestTPMOutage(t *testing.T) {
	st := newTPMSetup(t)
	st.validates(t, "TPM up")
	tag := uint16(st.ksk(t).KeyTag)

	st.tpm.Stop()
	// Nothing on the query path needs the KSK: answers still validate at once.
	st.validates(t, "TPM down, pre-made signatures")
	if r := st.s.query(t, "example.test.", dns.TypeDNSKEY, true); !sigTags(r)[tag] {
		t.Fatalf("DNSKEY RRset lost its KSK signature while the TPM is down:\n%v", r)
	}

	st.waitKSK(t, "ACTION_NEEDED", 20*time.Second)
	fams := scrape(t, st.s)
	if n := metric(t, fams, "signet_dnssec_ksks_needing_action", "zone", "example.test."); n != 1 {
		t.Errorf("signet_dnssec_ksks_needing_action = %v, want 1", n)
	}
	if n := metric(t, fams, "signet_dnssec_internal_failure", "zone", "example.test."); n != 0 {
		t.Errorf("signet_dnssec_internal_failure = %v, want 0 (a KSK outage is ACTION_NEEDED)", n)
	}
	if exp := metric(t, fams, "signet_dnssec_premade_signature_expiry_seconds", "zone", "example.test."); exp < (14 * 24 * time.Hour).Seconds() {
		t.Errorf("pre-made signatures expire in %v s, want more than 14 days left", exp)
	}
	// The age of the failure grows while it lasts (Route 53's DNSSECKeySigningKeyMaxNeedingActionAge).
	deadline := time.Now().Add(5 * time.Second)
	for metric(t, scrape(t, st.s), "signet_dnssec_ksk_max_needing_action_age_seconds", "zone", "example.test.") <= 0 {
		if time.Now().After(deadline) {
			t.Fatal("signet_dnssec_ksk_max_needing_action_age_seconds stays 0 while the KSK is ACTION_NEEDED")
		}
		time.Sleep(250 * time.Millisecond)
	}
	status := st.s.run(t, "dnssec", "status", "example.test.")
	if !strings.Contains(status, "ACTION_NEEDED") {
		t.Errorf("zone status does not say ACTION_NEEDED:\n%s", status)
	}
	st.validates(t, "KSK ACTION_NEEDED")

	st.tpm.Start()
	st.waitKSK(t, "ACTIVE", 60*time.Second)
	fams = scrape(t, st.s)
	if n := metric(t, fams, "signet_dnssec_ksks_needing_action", "zone", "example.test."); n != 0 {
		t.Errorf("after recovery signet_dnssec_ksks_needing_action = %v, want 0", n)
	}
	if age := metric(t, fams, "signet_dnssec_ksk_max_needing_action_age_seconds", "zone", "example.test."); age != 0 {
		t.Errorf("after recovery signet_dnssec_ksk_max_needing_action_age_seconds = %v, want 0", age)
	}
	st.validates(t, "TPM back")
}

// TestTPMDownAtRestart restarts the server while the TPM is unreachable. The KSK cannot
// sign, so it is ACTION_NEEDED once the proof that follows the start has asked it (within
// seconds); the zone must still validate, with the pre-made DNSKEY signatures the previous
// process made (they cover three weeks, restart or not), and must never be served unsigned
// while its parent publishes a DS.
func TestTPMDownAtRestart(t *testing.T) {
	st := newTPMSetup(t)
	st.validates(t, "TPM up")

	st.s.stop(t)
	st.tpm.Stop()
	st.s.start(t)
	st.waitKSK(t, "ACTION_NEEDED", 10*time.Second)
	r := st.s.query(t, "example.test.", dns.TypeDNSKEY, true)
	if countType(r.Answer, dns.TypeDNSKEY) == 0 || countType(r.Answer, dns.TypeRRSIG) == 0 {
		t.Errorf("restarted without the TPM, the zone serves no signed DNSKEY RRset:\n%v", r)
	}
	st.validates(t, "restarted with the TPM down")

	st.tpm.Start()
	st.waitKSK(t, "ACTIVE", 60*time.Second)
	st.validates(t, "TPM back")
}
