package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/file"
)

// TestBrokenKeysAtStart runs the real binary with three signed zones, then starts it again
// with one zone's ZSK file corrupt. With --strict (which opens every key at start) the start
// fails, naming the zone. Without, the server starts without opening any key: the two other
// zones validate in delv from their DS; the broken one's first answer that needs its ZSK is
// SERVFAIL (never unsigned), and from then on it answers SERVFAIL with EDE 14, and `signet
// zone status`, `signet dnssec status`, /readyz, /metrics and the log say so (without the
// keystore passphrase). Once the key file is back a SIGHUP brings the zone in, validating,
// without a restart. A corrupt key state document withholds its zone at start.
func TestBrokenKeysAtStart(t *testing.T) {
	s, zones, anchors := threeSignedZones(t)

	// Spoil bad.test.'s ZSK file, keeping it to put back.
	zsk := zskFile(t, s.State, "bad.test.")
	good, err := os.ReadFile(zsk)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zsk, []byte("age-encryption.org/v1\nnot a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("strict", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := append([]string{"serve", "--strict", "--listen", "127.0.0.1:0", "--admin", "off", "--state", s.State}, zones...)
		out, err := exec.CommandContext(ctx, signetBin, args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() == 0 || ctx.Err() != nil {
			t.Fatalf("serve --strict: %v, want a non-zero exit\n%s", err, out)
		}
		if !strings.Contains(string(out), "signet: zone bad.test.:") || strings.Contains(string(out), "\nready\n") {
			t.Errorf("serve --strict does not name bad.test. (or said ready):\n%s", out)
		}
	})

	s.start(t)
	validates := func(zone, when string) {
		t.Helper()
		delvValidates(t, s, anchors, zone, when)
	}
	validates("a.test.", "bad.test.'s ZSK corrupt")
	validates("c.test.", "bad.test.'s ZSK corrupt")

	// The first answer that needs the ZSK opens it, and fails.
	if r := s.query(t, "www.bad.test.", dns.TypeA, true); r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
		t.Fatalf("bad.test.'s first signed answer: %v, want SERVFAIL", r)
	}
	waitFor(t, 10*time.Second, "bad.test. withheld after its ZSK failed to open", func() bool {
		return edeOf(s.query(t, "www.bad.test.", dns.TypeA, true)) == dns.ExtendedErrorCodeNotReady
	})
	r := s.query(t, "www.bad.test.", dns.TypeA, true)
	var ede *dns.EDNS0_EDE
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				ede = e
			}
		}
	}
	if r.Rcode != dns.RcodeServerFailure || ede == nil || ede.InfoCode != dns.ExtendedErrorCodeNotReady || ede.ExtraText != "zone's DNSSEC keys failed to load" {
		t.Errorf("bad.test.: %s with EDE %v, want SERVFAIL and EDE 14 \"zone's DNSSEC keys failed to load\"\n%v", dns.RcodeToString[r.Rcode], ede, r)
	}

	secret, _ := badWithheldStatus(t, s, zsk)
	zskID := strings.TrimSuffix(filepath.Base(zsk), ".key.age")
	if st := s.run(t, "dnssec", "status", "bad.test."); !strings.Contains(st, "INTERNAL_FAILURE") || !strings.Contains(st, zskID) {
		t.Errorf("dnssec status of bad.test.: want INTERNAL_FAILURE naming the ZSK %s\n%s", zskID, st)
	}
	code, rd := getReady(t, s)
	if code == http.StatusOK || rd.Ready {
		t.Errorf("/readyz: %d %+v, want not ready", code, rd)
	}
	for _, z := range rd.Zones {
		if z.Zone == "bad.test." && (z.Loaded || !strings.Contains(z.Reason, "DNSSEC keys")) {
			t.Errorf("/readyz for bad.test.: %+v, want not loaded because of its keys", z)
		}
		if z.Zone != "bad.test." && (!z.Loaded || !z.CanSign || z.Reason != "") {
			t.Errorf("/readyz for %s: %+v, want loaded and signing", z.Zone, z)
		}
	}
	fams := scrape(t, s)
	for zone, want := range map[string]float64{"a.test.": 0, "bad.test.": 1, "c.test.": 0} {
		if v := metric(t, fams, "signet_zone_load_failing", "zone", zone); v != want {
			t.Errorf("signet_zone_load_failing{%s} = %v, want %v", zone, v, want)
		}
	}
	if log := s.log.String(); !strings.Contains(log, `msg="zone withheld: answering SERVFAIL for it until a reload finds it fixed" zone=bad.test.`) ||
		strings.Contains(log, secret) {
		t.Errorf("the log does not say bad.test. is withheld (or holds the passphrase):\n%s", log)
	}

	// Fixed: a SIGHUP starts its keys and serves it, with the keys its DS names.
	if err := os.WriteFile(zsk, good, 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for s.query(t, "www.bad.test.", dns.TypeA, true).Rcode != dns.RcodeSuccess && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	validates("bad.test.", "after the fix and SIGHUP")
	validates("a.test.", "after the fix and SIGHUP")
	if out := s.run(t, "zone", "status"); strings.Contains(out, "SERVFAIL") {
		t.Errorf("zone status after the fix:\n%s", out)
	}
	if code, rd := getReady(t, s); code != http.StatusOK || !rd.Ready {
		t.Errorf("/readyz after the fix: %d %+v", code, rd)
	}
	if v := metric(t, scrape(t, s), "signet_zone_load_failing", "zone", "bad.test."); v != 0 {
		t.Errorf("signet_zone_load_failing{bad.test.} = %v after the fix, want 0", v)
	}

	// A key state document that does not decode withholds its zone the same way.
	s.stop(t)
	doc := filepath.Join(s.State, "zones", "c.test.json")
	state, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, state[:len(state)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(t)
	validates("bad.test.", "c.test.'s state corrupt")
	if r := s.query(t, "www.c.test.", dns.TypeA, true); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("c.test. with its state corrupt: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if out, err := s.try("zone", "status"); err == nil || !strings.Contains(out, "c.test.") || !strings.Contains(out, "state of c.test.") {
		t.Errorf("zone status with c.test.'s state corrupt: %v\n%s", err, out)
	}
	if err := os.WriteFile(doc, state, 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline = time.Now().Add(10 * time.Second)
	for s.query(t, "www.c.test.", dns.TypeA, true).Rcode != dns.RcodeSuccess && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	validates("c.test.", "after its state is back and SIGHUP")
}

// threeSignedZones runs the real binary with the signed zones a.test., bad.test. and
// c.test. (quick start), takes each one's DS as its trust anchor, and stops it. It returns
// the stopped server, the zone arguments to start it again with, and the anchors.
func threeSignedZones(t *testing.T) (*signet, []string, map[string][]dns.RR) {
	t.Helper()
	dir := t.TempDir()
	zones := []string{"--dnssec"}
	for _, z := range []string{"a", "bad", "c"} {
		p := filepath.Join(dir, z+".zone")
		body := "$ORIGIN " + z + ".test.\n$TTL 60\n@ SOA ns host 1 7200 3600 1209600 60\n@ NS ns\nns A 192.0.2.1\nwww A 192.0.2.10\n"
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		zones = append(zones, "--zone", z+".test.="+p)
	}
	s := startSignet(t, "", append([]string{"--admin-token", uiToken}, zones...)...)
	anchors := map[string][]dns.RR{}
	for _, z := range []string{"a.test.", "bad.test.", "c.test."} {
		anchors[z] = resolvertest.ParseAnchors(t, s.ds(t, z))
	}
	s.stop(t)
	return s, zones, anchors
}

// delvValidates checks that delv validates www.zone A from the server s with zone's anchor.
func delvValidates(t *testing.T, s *signet, anchors map[string][]dns.RR, zone, when string) {
	t.Helper()
	if out, ok := resolvertest.Delv(t, s.Addr, anchors[zone], "www."+zone, "A"); !ok {
		t.Errorf("%s: www.%s A not validated:\n%s", when, zone, out)
	}
}

// zskFile is the key file of zone's ZSK in the file keystore of the state directory state.
func zskFile(t *testing.T, state, zone string) string {
	t.Helper()
	metas, err := filepath.Glob(filepath.Join(state, "keys", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, p := range metas {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m struct{ Zone, Role string }
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if m.Zone == zone && m.Role == "ZSK" {
			found = append(found, strings.TrimSuffix(p, ".json")+".key.age")
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d ZSK files of %s, want 1", len(found), zone)
	}
	return found[0]
}

// TestBrokenKeyMetadata runs the real binary with three signed zones, then starts it again
// with the metadata file of one zone's ZSK cut short, and an orphan key of another zone. The
// keystore's listing leaves the damaged entry out (logged with its file, counted in
// signet_keystore_unreadable_entries) instead of failing every zone's: the two other zones
// validate in delv from their DS, and the orphan is deleted; the zone whose state names the
// key is withheld (SERVFAIL, EDE 14), its status naming the file; the damaged key's files are
// not deleted as an orphan's. Repaired, a SIGHUP serves the zone, validating, and the count
// goes back to 0.
func TestBrokenKeyMetadata(t *testing.T) {
	s, _, anchors := threeSignedZones(t)

	// Cut bad.test.'s ZSK metadata file short, as a crash of a careless copy would.
	zsk := zskFile(t, s.State, "bad.test.")
	meta := strings.TrimSuffix(zsk, ".key.age") + ".json"
	good, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(meta, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	// And leave a key of a.test. that no state names, as a crash between its creation and
	// the state's save does: the unreadable entry must not stop its deletion.
	orphan := plantOrphan(t, s.State, "a.test.")

	s.start(t)
	delvValidates(t, s, anchors, "a.test.", "bad.test.'s ZSK metadata cut short")
	delvValidates(t, s, anchors, "c.test.", "bad.test.'s ZSK metadata cut short")
	waitFor(t, 10*time.Second, "bad.test. withheld", func() bool {
		return edeOf(s.query(t, "www.bad.test.", dns.TypeA, true)) == dns.ExtendedErrorCodeNotReady
	})
	if r := s.query(t, "www.bad.test.", dns.TypeA, true); r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
		t.Errorf("bad.test.: %s with %d answers, want SERVFAIL", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	secret, out := badWithheldStatus(t, s, meta)
	zskID := strings.TrimSuffix(filepath.Base(zsk), ".key.age")
	if st := s.run(t, "dnssec", "status", "bad.test."); !strings.Contains(st, "INTERNAL_FAILURE") || !strings.Contains(st, zskID) || !strings.Contains(st, filepath.Base(meta)) {
		t.Errorf("dnssec status of bad.test.: want INTERNAL_FAILURE naming the ZSK %s and its metadata file\n%s", zskID, st)
	}
	if st := s.run(t, "dnssec", "status", "a.test."); strings.Contains(st, "INTERNAL_FAILURE") {
		t.Errorf("dnssec status of a.test.:\n%s", st)
	}
	if code, rd := getReady(t, s); code == http.StatusOK || rd.Ready {
		t.Errorf("/readyz: %d %+v, want not ready", code, rd)
	}
	loaded := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "loaded" {
			loaded[f[0]] = true
		}
	}
	if !loaded["a.test."] || !loaded["c.test."] || loaded["bad.test."] {
		t.Errorf("zone status: want a.test. and c.test. loaded, bad.test. not\n%s", out)
	}
	waitFor(t, 10*time.Second, "signet_keystore_unreadable_entries{store=soft} 1", func() bool {
		return metric(t, scrape(t, s), "signet_keystore_unreadable_entries", "store", "soft") == 1
	})
	fams := scrape(t, s)
	for zone, want := range map[string]float64{"a.test.": 0, "bad.test.": 1, "c.test.": 0} {
		if v := metric(t, fams, "signet_zone_load_failing", "zone", zone); v != want {
			t.Errorf("signet_zone_load_failing{%s} = %v, want %v", zone, v, want)
		}
	}
	waitFor(t, 10*time.Second, "a.test.'s orphan deleted", func() bool {
		_, err := os.Stat(filepath.Join(s.State, "keys", orphan+".json"))
		return os.IsNotExist(err)
	})
	log := s.log.String()
	if !strings.Contains(log, `msg="keystore entry cannot be read`) || !strings.Contains(log, meta) || strings.Contains(log, secret) {
		t.Errorf("the log does not name the unreadable metadata file (or holds the passphrase):\n%s", log)
	}
	if n := strings.Count(log, "deleting a key no state names"); n != 1 || !strings.Contains(log, "key="+orphan) {
		t.Errorf("%d keys deleted as orphans, want a.test.'s %s alone:\n%s", n, orphan, log)
	}
	for _, p := range []string{zsk, meta} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the damaged key's file: %v", err)
		}
	}

	// Repaired in place: a SIGHUP serves the zone with the keys its DS names.
	if err := os.WriteFile(meta, good, 0o600); err != nil {
		t.Fatal(err)
	}
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 10*time.Second, "bad.test. served after the repair and SIGHUP", func() bool {
		return s.query(t, "www.bad.test.", dns.TypeA, true).Rcode == dns.RcodeSuccess
	})
	delvValidates(t, s, anchors, "bad.test.", "after the repair and SIGHUP")
	delvValidates(t, s, anchors, "c.test.", "after the repair and SIGHUP")
	if out := s.run(t, "zone", "status"); strings.Contains(out, "SERVFAIL") {
		t.Errorf("zone status after the repair:\n%s", out)
	}
	waitFor(t, 10*time.Second, "signet_keystore_unreadable_entries{store=soft} 0 after the repair", func() bool {
		return metric(t, scrape(t, s), "signet_keystore_unreadable_entries", "store", "soft") == 0
	})
}

// badWithheldStatus checks that `signet zone status` fails, showing bad.test. SERVFAIL
// because of its DNSSEC keys, naming file, without the keystore passphrase. It returns the
// passphrase and the status.
func badWithheldStatus(t *testing.T, s *signet, file string) (secret, out string) {
	t.Helper()
	pass, err := os.ReadFile(filepath.Join(s.State, "keystore.passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	secret = strings.TrimSpace(string(pass))
	out, err = s.try("zone", "status")
	if err == nil || !strings.Contains(out, "bad.test.") || !strings.Contains(out, "SERVFAIL") ||
		!strings.Contains(out, "DNSSEC keys") || !strings.Contains(out, filepath.Base(file)) || strings.Contains(out, secret) {
		t.Errorf("zone status: %v, want exit 1 and bad.test. SERVFAIL naming %s\n%s", err, filepath.Base(file), out)
	}
	return secret, out
}

// plantOrphan creates a ZSK of zone in the file keystore of the state directory state (a
// server not running), which no key state names, and returns its ID.
func plantOrphan(t *testing.T, state, zone string) string {
	t.Helper()
	pass, err := file.PassphraseFromFile(filepath.Join(state, "keystore.passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := file.Open(file.Options{Dir: filepath.Join(state, "keys"), Passphrase: pass, WorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	m, err := ks.Create(context.Background(), zone, keystore.ZSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}
