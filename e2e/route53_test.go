package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
)

// startSignetConfig runs `signet serve --config FILE` with args, where FILE is the YAML that
// config returns for the server's own DNS address (so a zone can name this very server as
// its parent). Addresses and state are chosen here, as startSignet does.
func startSignetConfig(t *testing.T, config func(addr string) string, args ...string) *signet {
	t.Helper()
	s := &signet{
		Addr:  fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1")),
		Admin: fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1")),
		State: filepath.Join(t.TempDir(), "state"),
	}
	path := filepath.Join(t.TempDir(), "signet.yaml")
	if err := os.WriteFile(path, []byte(config(s.Addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	s.args = append([]string{"--config", path}, args...)
	s.start(t)
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("signet log:\n%s", s.log.String())
		}
	})
	return s
}

// walk runs CLI steps against a server and logs each command with its output, so that the
// verbose test log reads as the README's walkthrough.
type walk struct {
	t *testing.T
	s *signet
}

// cli runs `signet ARGS` and fails the test when it fails.
func (w walk) cli(args ...string) string {
	w.t.Helper()
	out := w.s.run(w.t, args...)
	w.t.Logf("$ signet %s\n%s", strings.Join(args, " "), out)
	return out
}

// refused runs `signet ARGS`, which must fail with Route 53's error code.
func (w walk) refused(code string, args ...string) string {
	w.t.Helper()
	out, err := w.s.try(args...)
	w.t.Logf("$ signet %s\n%s(%v)", strings.Join(args, " "), out, err)
	if err == nil {
		w.t.Fatalf("signet %s succeeded, want a refusal with %s:\n%s", strings.Join(args, " "), code, out)
	}
	if !strings.Contains(out, code) {
		w.t.Fatalf("signet %s: output lacks the error code %s:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// dig runs the real dig against the server and logs it.
func (w walk) dig(args ...string) string {
	w.t.Helper()
	host, port, _ := strings.Cut(w.s.Addr, ":")
	full := append([]string{"@" + host, "-p", port, "+norec", "+noall", "+answer"}, args...)
	out := resolvertest.Dig(w.t, full...)
	w.t.Logf("$ dig %s\n%s", strings.Join(full, " "), out)
	return out
}

// parentFile edits the parent zone file as a registrar would: it sets the DS RRset of
// signed.example.test. (none when ds is empty) and bumps the SOA serial.
type parentFile struct {
	path   string
	serial int
}

var (
	childDSLine = regexp.MustCompile(`(?m)^signed(\.example\.test\.)?\s+(\d+\s+)?IN\s+DS\s.*\n`)
	serialLine  = regexp.MustCompile(`\d+(\s*; serial)`)
)

func (p *parentFile) setDS(t *testing.T, ds ...string) {
	t.Helper()
	b, err := os.ReadFile(p.path)
	if err != nil {
		t.Fatal(err)
	}
	b = childDSLine.ReplaceAll(b, nil)
	p.serial++
	b = serialLine.ReplaceAll(b, []byte(fmt.Sprintf("%d$1", 2024010101+p.serial)))
	for _, d := range ds {
		b = append(b, strings.TrimSpace(d)+"\n"...)
	}
	if err := os.WriteFile(p.path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if n := len(childDSLine.FindAll(b, -1)); n != len(ds) {
		t.Fatalf("parent file has %d DS lines for the child, want %d", n, len(ds))
	}
}

// kskInfo is the part of `signet ds ZONE --json` a test needs.
type kskInfo struct {
	Name, Status, DSZoneFile, DNSKEYRecord string
	KeyTag                                 int
}

func (w walk) ksks(zone string) map[string]kskInfo {
	w.t.Helper()
	var list []kskInfo
	decodeJSON(w.t, w.s.run(w.t, "ds", zone, "--json"), &list)
	out := map[string]kskInfo{}
	for _, k := range list {
		out[k.Name] = k
	}
	return out
}

// expectAnswer asks unbound and checks the rcode, the AD bit and that the A answer holds
// want ("" for no A record).
func expectAnswer(t *testing.T, u *resolvertest.Unbound, step, name string, ad bool, want string) {
	t.Helper()
	r := u.Query(t, name, dns.TypeA)
	got := ""
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			got = a.A.String()
		}
	}
	t.Logf("unbound: %s A -> %s %s AD=%v", name, dns.RcodeToString[r.Rcode], got, r.AuthenticatedData)
	if r.Rcode != dns.RcodeSuccess || r.AuthenticatedData != ad || got != want {
		t.Fatalf("%s: %s A: rcode %s AD=%v A=%q, want NOERROR AD=%v A=%q\n%v", step, name,
			dns.RcodeToString[r.Rcode], r.AuthenticatedData, got, ad, want, r)
	}
}

// sigTags returns the key tags of every RRSIG in the answer and authority sections.
func sigTags(r *dns.Msg) map[uint16]bool {
	tags := map[uint16]bool{}
	for _, rr := range append(append([]dns.RR{}, r.Answer...), r.Ns...) {
		if sig, ok := rr.(*dns.RRSIG); ok {
			tags[sig.KeyTag] = true
		}
	}
	return tags
}

// dnskeyTags returns the key tags of the DNSKEY records in the answer.
func dnskeyTags(r *dns.Msg) map[uint16]bool {
	tags := map[uint16]bool{}
	for _, rr := range r.Answer {
		if k, ok := rr.(*dns.DNSKEY); ok {
			tags[k.KeyTag()] = true
		}
	}
	return tags
}

// TestRoute53Walkthrough follows Route 53's documented procedure end to end on loopback, with
// the real binary, its CLI and unbound trusting only the parent's DS: enable DNSSEC signing
// and establish a chain of trust, roll the KSK over (new KSK, DS swap, deactivate and delete
// the old one), and disable DNSSEC safely (refused while the parent publishes a DS, delete
// sentinels published, allowed once the DS is gone).
func TestRoute53Walkthrough(t *testing.T) {
	resolvertest.RequireTool(t, "unbound")
	resolvertest.RequireTool(t, "dig")
	const (
		parentZone = "example.test."
		childZone  = "signed.example.test."
		www        = "www.signed.example.test."
	)
	dir := t.TempDir()
	parent := &parentFile{path: copyZone(t, dir, "example.test.zone")}
	child := copyZone(t, dir, "signed.example.test.zone")
	parent.setDS(t) // the child starts as an unsigned delegation

	// Without --dnssec: every zone starts unsigned and is signed through the API.
	s := startSignetConfig(t, func(addr string) string {
		return fmt.Sprintf(`zones:
  - origin: %s
    file: %s
  - origin: %s
    file: %s
    parents: ["%s"]
`, parentZone, parent.path, childZone, child, addr)
	})
	w := walk{t, s}

	// Step 0: nothing is signed yet.
	if out := w.cli("dnssec", "status", childZone); !strings.Contains(out, "NOT_SIGNING") {
		t.Fatalf("fresh zone not NOT_SIGNING:\n%s", out)
	}
	if r := s.query(t, www, dns.TypeA, true); len(sigTags(r)) != 0 {
		t.Fatalf("unsigned zone served RRSIGs:\n%v", r)
	}

	// Step 1: the parent signs (its own KSK, then signing), and its DS is the trust anchor.
	w.cli("ksk", "create", parentZone, "parent_ksk", "--status", "ACTIVE")
	w.cli("dnssec", "enable", parentZone)
	anchor := s.ds(t, parentZone)
	t.Logf("trust anchor (the parent's DS):\n%s", anchor)

	// Step 2: create the child's KSK and enable signing (Route 53: "Enable DNSSEC signing").
	w.refused("KeySigningKeyWithActiveStatusNotFound", "dnssec", "enable", childZone)
	w.cli("ksk", "create", childZone, "ksk1", "--status", "ACTIVE")
	if out := w.cli("dnssec", "enable", childZone); !strings.Contains(out, "SIGNING") {
		t.Fatalf("enable did not report SIGNING:\n%s", out)
	}
	ksk1 := w.ksks(childZone)["ksk1"]
	if ksk1.Status != "ACTIVE" || ksk1.KeyTag == 0 {
		t.Fatalf("ksk1 after enable: %+v", ksk1)
	}
	if r := s.query(t, www, dns.TypeA, true); len(sigTags(r)) == 0 {
		t.Fatalf("signed zone served no RRSIG:\n%v", r)
	}

	u := resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
		Stubs:   map[string]string{parentZone: unboundAt(s.Addr), childZone: unboundAt(s.Addr)},
		Anchors: []string{anchor},
	})
	// Signed, but no DS in the parent yet: the parent proves the delegation insecure.
	expectAnswer(t, u, "signed child without a DS", www, false, "192.0.2.161")

	// Step 3: establish the chain of trust: give the parent the child's DS.
	w.cli("ds", childZone)
	ds1 := s.ds(t, childZone)
	parent.setDS(t, ds1)
	w.cli("reload")
	u.Flush(t)
	expectAnswer(t, u, "chain of trust", www, true, "192.0.2.161")
	expectAnswer(t, u, "parent data", "www.example.test.", true, "192.0.2.80")

	// KSK rollover, step 1: a second KSK, published at once next to the first.
	w.cli("ksk", "create", childZone, "ksk2", "--status", "ACTIVE")
	ksk2 := w.ksks(childZone)["ksk2"]
	if ksk2.Status != "ACTIVE" || ksk2.KeyTag == ksk1.KeyTag {
		t.Fatalf("ksk2: %+v (ksk1 tag %d)", ksk2, ksk1.KeyTag)
	}
	r := s.query(t, childZone, dns.TypeDNSKEY, true)
	if tags := dnskeyTags(r); !tags[uint16(ksk1.KeyTag)] || !tags[uint16(ksk2.KeyTag)] {
		t.Fatalf("DNSKEY RRset after creating ksk2 lacks a KSK (want %d and %d):\n%v", ksk1.KeyTag, ksk2.KeyTag, r)
	}
	if tags := sigTags(r); !tags[uint16(ksk1.KeyTag)] || !tags[uint16(ksk2.KeyTag)] {
		t.Fatalf("DNSKEY RRset not signed by both KSKs:\n%v", r)
	}
	// With two active KSKs the CDS points at the newer one (RFC 7344 §4).
	if out := w.dig("+dnssec", childZone, "CDS"); !strings.Contains(out, fmt.Sprintf("CDS\t%d 13 2 ", ksk2.KeyTag)) {
		t.Errorf("CDS during the rollover does not name ksk2 (%d):\n%s", ksk2.KeyTag, out)
	}
	expectAnswer(t, u, "two KSKs, old DS", www, true, "192.0.2.161")
	// Both DS records are what BIND computes from the served DNSKEY RRset.
	checkDS(t, s, childZone)

	// Step 2: both DS records in the parent.
	w.cli("ds", childZone)
	ds2 := dsOf(t, s, childZone, "ksk2")
	parent.setDS(t, ds1, ds2)
	w.cli("reload")
	// The old KSK is still what the parent's DS names: deactivating it is refused.
	w.refused("KeySigningKeyInParentDSRecord", "ksk", "deactivate", childZone, "ksk1")
	u.Flush(t)
	expectAnswer(t, u, "both DS", www, true, "192.0.2.161")

	// Step 3: the parent drops the old DS; only ksk2's remains.
	parent.setDS(t, ds2)
	w.cli("reload")
	u.Flush(t)
	expectAnswer(t, u, "new DS only", www, true, "192.0.2.161")

	// Step 4: deactivate the old KSK. The DNSKEY RRset changes at once, and no signature by
	// the withdrawn key is served again, for any RRset, on any repetition (no stale cache).
	w.cli("ksk", "deactivate", childZone, "ksk1")
	old := uint16(ksk1.KeyTag)
	for i := range 3 {
		r := s.query(t, childZone, dns.TypeDNSKEY, true)
		if tags := dnskeyTags(r); tags[old] || !tags[uint16(ksk2.KeyTag)] {
			t.Fatalf("query %d: DNSKEY RRset after deactivating ksk1 (tag %d): %v", i, old, r)
		}
		for _, q := range []struct {
			name  string
			qtype uint16
		}{
			{childZone, dns.TypeDNSKEY}, {childZone, dns.TypeCDS}, {childZone, dns.TypeCDNSKEY},
			{childZone, dns.TypeSOA}, {www, dns.TypeA}, {"nope." + childZone, dns.TypeA},
		} {
			if r := s.query(t, q.name, q.qtype, true); sigTags(r)[old] {
				t.Fatalf("query %d: %s %s still carries an RRSIG by the deactivated ksk1:\n%v", i, q.name, dns.TypeToString[q.qtype], r)
			}
		}
	}
	w.dig("+dnssec", "+multi", childZone, "DNSKEY")
	u.Flush(t)
	expectAnswer(t, u, "ksk1 deactivated", www, true, "192.0.2.161")

	// Step 5: delete the old KSK.
	w.cli("ksk", "delete", childZone, "ksk1")
	if list := w.cli("ksk", "list", childZone); strings.Contains(list, "ksk1") || !strings.Contains(list, "ksk2") {
		t.Fatalf("KSK list after deleting ksk1:\n%s", list)
	}
	u.Flush(t)
	expectAnswer(t, u, "ksk1 deleted", www, true, "192.0.2.161")

	// Disabling, Route 53's safety rule: refused while the parent publishes a DS, and the
	// CDS/CDNSKEY delete sentinels (RFC 8078 §4) go out so the parent can remove it.
	w.refused("KeySigningKeyInParentDSRecord", "dnssec", "disable", childZone)
	cds := w.dig("+dnssec", childZone, "CDS")
	if !regexp.MustCompile(`CDS\s+0 0 0 00`).MatchString(cds) {
		t.Fatalf("no CDS delete sentinel after the refused disable:\n%s", cds)
	}
	cdnskey := w.dig("+dnssec", childZone, "CDNSKEY")
	if !regexp.MustCompile(`CDNSKEY\s+0 3 0 AA==`).MatchString(cdnskey) {
		t.Fatalf("no CDNSKEY delete sentinel after the refused disable:\n%s", cdnskey)
	}
	// Still signing (and validating) meanwhile.
	if out := w.cli("dnssec", "status", childZone); !strings.Contains(out, "SIGNING") || strings.Contains(out, "NOT_SIGNING") {
		t.Fatalf("zone not signing while disabling waits for the parent:\n%s", out)
	}
	u.Flush(t)
	expectAnswer(t, u, "delete sentinels published", www, true, "192.0.2.161")

	// The parent removes the DS; now disabling is safe and allowed.
	parent.setDS(t)
	w.cli("reload")
	if out := w.cli("dnssec", "disable", childZone); !strings.Contains(out, "NOT_SIGNING") {
		t.Fatalf("disable did not report NOT_SIGNING:\n%s", out)
	}
	r = s.query(t, www, dns.TypeA, true)
	if len(sigTags(r)) != 0 || countType(r.Answer, dns.TypeA) != 1 {
		t.Fatalf("disabled zone: want one A and no RRSIG with DO=1:\n%v", r)
	}
	if r := s.query(t, childZone, dns.TypeDNSKEY, true); countType(r.Answer, dns.TypeDNSKEY) != 0 {
		t.Fatalf("disabled zone still serves DNSKEY:\n%v", r)
	}
	w.dig("+dnssec", www, "A")
	u.Flush(t)
	expectAnswer(t, u, "disabled", www, false, "192.0.2.161")
	expectAnswer(t, u, "parent still signed", "www.example.test.", true, "192.0.2.80")
}

// decodeJSON decodes a CLI's JSON output into v.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decoding CLI output: %v\n%s", err, out)
	}
}

// dsOf returns the DS record (zone-file form) of the zone's KSK named name.
func dsOf(t *testing.T, s *signet, zone, name string) string {
	t.Helper()
	k, ok := walk{t, s}.ksks(zone)[name]
	if !ok || k.DSZoneFile == "" {
		t.Fatalf("no DS for KSK %s of %s", name, zone)
	}
	return k.DSZoneFile
}
