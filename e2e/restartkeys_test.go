package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestRestartCorruptZSK restarts the real binary with two signed zones after one zone's ZSK
// file was damaged. A restart opens no key file, so the server starts and serves both; the
// damaged zone's first answer that needs a signature is SERVFAIL (EDE 0, "signing failed"),
// never unsigned, and from then on the zone is INTERNAL_FAILURE in `signet dnssec status`,
// in /metrics and in /readyz, and the log names the key, while the other zone signs as before.
func TestRestartCorruptZSK(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for _, z := range []string{"good.test.", "bad.test."} {
		p := filepath.Join(dir, z+"zone")
		body := "$ORIGIN " + z + "\n$TTL 60\n@ SOA ns host 1 7200 3600 1209600 60\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.10\n"
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--zone", z+"="+p)
	}
	s := startSignet(t, "", append([]string{"--dnssec"}, args...)...)
	for _, z := range []string{"good.test.", "bad.test."} {
		if r := s.query(t, "www."+z, dns.TypeA, true); r.Rcode != dns.RcodeSuccess || countType(r.Answer, dns.TypeRRSIG) != 1 {
			t.Fatalf("%s before the restart: %v, want a signed answer", z, r)
		}
	}
	s.stop(t)

	zsk := zskOf(t, s.State, "bad.test.")
	keyFile := filepath.Join(s.State, "keys", zsk+".key.age")
	if err := os.WriteFile(keyFile, []byte("age-encryption.org/v1\n-> X25519 damaged\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)

	if r := s.query(t, "www.good.test.", dns.TypeA, true); r.Rcode != dns.RcodeSuccess || countType(r.Answer, dns.TypeRRSIG) != 1 {
		t.Errorf("good.test. after the restart: %v, want a signed answer", r)
	}
	r := s.query(t, "www.bad.test.", dns.TypeA, true)
	if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
		t.Fatalf("bad.test. with its ZSK file damaged: %v, want SERVFAIL", r)
	}
	if code, text := edeOf(r), edeText(r); code != dns.ExtendedErrorCodeOther || text != "signing failed" {
		t.Errorf("bad.test.: EDE %d %q, want 0 \"signing failed\"", code, text)
	}

	// The failure reaches the zone's status within the key manager's next step.
	var status string
	waitFor(t, 10*time.Second, "bad.test. INTERNAL_FAILURE after its ZSK failed", func() bool {
		status = s.run(t, "dnssec", "status", "bad.test.")
		return strings.Contains(status, "INTERNAL_FAILURE")
	})
	if !strings.Contains(status, zsk) {
		t.Errorf("status does not name the ZSK %s:\n%s", zsk, status)
	}
	if good := s.run(t, "dnssec", "status", "good.test."); strings.Contains(good, "INTERNAL_FAILURE") {
		t.Errorf("good.test. INTERNAL_FAILURE too:\n%s", good)
	}
	fams := scrape(t, s)
	if v := metric(t, fams, "signet_dnssec_internal_failure", "zone", "bad.test."); v != 1 {
		t.Errorf("signet_dnssec_internal_failure{bad.test.} = %v, want 1", v)
	}
	if v := metric(t, fams, "signet_dnssec_internal_failure", "zone", "good.test."); v != 0 {
		t.Errorf("signet_dnssec_internal_failure{good.test.} = %v, want 0", v)
	}
	if code, rd := getReady(t, s); code == http.StatusOK || rd.Ready {
		t.Errorf("/readyz with a zone INTERNAL_FAILURE: %d %+v, want not ready", code, rd)
	}
	if l := s.log.String(); !strings.Contains(l, "ZSK cannot be opened") || !strings.Contains(l, zsk) {
		t.Errorf("the log does not report the ZSK %s", zsk)
	}
	if r := s.query(t, "www.bad.test.", dns.TypeA, true); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("bad.test. later: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

// zskOf returns the ID of zone's ZSK in the file keystore under state.
func zskOf(t *testing.T, state, zone string) string {
	t.Helper()
	metas, err := filepath.Glob(filepath.Join(state, "keys", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range metas {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ ID, Zone, Role string }
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if m.Zone == zone && m.Role == "ZSK" {
			return m.ID
		}
	}
	t.Fatalf("no ZSK of %s under %s", zone, state)
	return ""
}

// edeText returns the text of r's Extended DNS Error ("" when it has none).
func edeText(r *dns.Msg) string {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e.ExtraText
			}
		}
	}
	return ""
}
