package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore"
	etcdkeys "github.com/signetdns/signet/keystore/etcd"
	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/statestore"
)

// keyFailureSetup is a state directory where good.test. and bad.test. were started signed
// once, and the configuration to start them again.
type keyFailureSetup struct {
	c     *config
	state string
}

func newKeyFailureSetup(t *testing.T) keyFailureSetup {
	t.Helper()
	dir := t.TempDir()
	text := func(origin string) string {
		return "$ORIGIN " + origin + "\n$TTL 300\n@ SOA ns1 host 1 7200 3600 1209600 300\n@ NS ns1\nns1 A 192.0.2.53\n"
	}
	state := filepath.Join(dir, "state")
	cfg := writeFile(t, dir, "c.yaml", "state: "+state+"\ndnssec:\n  enabled: true\nzones:\n"+
		"  - origin: good.test.\n    file: "+writeFile(t, dir, "good.zone", text("good.test."), 0o644)+"\n"+
		"  - origin: bad.test.\n    file: "+writeFile(t, dir, "bad.zone", text("bad.test."), 0o644)+"\n", 0o600)
	st := keyFailureSetup{c: mustLoad(t, cfg), state: state}
	dn, zs, err := st.start(t)
	if err != nil {
		t.Fatal(err)
	}
	dn.Close()
	if n := len(zs.Status()); n != 2 {
		t.Fatalf("%d zones", n)
	}
	return st
}

// start wires the zones as serve does; the caller closes dn.
func (st keyFailureSetup) start(t *testing.T) (dnssecRuntime, *server.ZoneSet, error) {
	t.Helper()
	ctx, log := context.Background(), slog.New(slog.DiscardHandler)
	dn, err := setupDNSSEC(ctx, st.c, log, prometheus.NewRegistry())
	if err != nil {
		return nil, nil, err
	}
	zs := server.NewZoneSet(log, dn.Signed)
	for _, z := range st.c.Zones {
		if err := zs.Add(server.ZoneFile{Origin: z.Origin, Path: z.File}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dn.Start(ctx, st.c, zs); err != nil {
		dn.Close()
		return nil, nil, err
	}
	return dn, zs, nil
}

// TestKeyFailureWithholdsZone: a zone whose key state cannot be read at start is withheld
// (not loaded, its error in the status) while the other starts signed; a retry once the state
// is fixed serves it signed. With strict the start fails, naming the zone.
func TestKeyFailureWithholdsZone(t *testing.T) {
	st := newKeyFailureSetup(t)
	doc := filepath.Join(st.state, "zones", "bad.test.json")
	good, err := os.ReadFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("{\"version\": "), 0o600); err != nil {
		t.Fatal(err)
	}

	st.c.Strict = true
	if _, _, err := st.start(t); err == nil || !strings.Contains(err.Error(), "zone bad.test.") {
		t.Errorf("strict start: %v, want an error naming bad.test.", err)
	}
	st.c.Strict = false

	dn, zs, err := st.start(t)
	if err != nil {
		t.Fatalf("start with one zone's state corrupt: %v", err)
	}
	defer dn.Close()
	status := func() map[string]server.ZoneStatus {
		out := map[string]server.ZoneStatus{}
		for _, z := range zs.Status() {
			out[z.Zone] = z
		}
		return out
	}
	s := status()
	if b := s["bad.test."]; b.Loaded || !b.Failing || !strings.Contains(b.Error, "DNSSEC keys") || !strings.Contains(b.Error, "bad.test.") {
		t.Errorf("bad.test. status %+v, want withheld with its error", b)
	}
	if g := s["good.test."]; !g.Loaded || g.Failing || !dn.Signed("good.test.") {
		t.Errorf("good.test. status %+v (signed %v), want loaded and signed", g, dn.Signed("good.test."))
	}
	if ok, _ := dn.CanSign("good.test."); !ok {
		t.Error("good.test. cannot sign")
	}
	z := zs.Match("www.bad.test.")
	if z == nil || z.Available() || z.Reason() != keysFailedReason {
		t.Errorf("bad.test. serves %v, want the placeholder saying %q", z, keysFailedReason)
	}

	// Still broken: the retry keeps it withheld, and the reload reports why.
	if err := dn.RetryZones(context.Background(), zs); err != nil {
		t.Errorf("retry, still broken: %v", err)
	}
	if err := zs.Reload(); err == nil || !strings.Contains(err.Error(), "bad.test.") {
		t.Errorf("reload with bad.test. still broken: %v", err)
	}
	if s := status()["bad.test."]; s.Loaded {
		t.Errorf("bad.test. loaded while its state is still corrupt: %+v", s)
	}

	if err := os.WriteFile(doc, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := dn.RetryZones(context.Background(), zs); err != nil {
		t.Fatalf("retry, fixed: %v", err)
	}
	if b := status()["bad.test."]; !b.Loaded || b.Failing || b.Error != "" || !dn.Signed("bad.test.") {
		t.Errorf("bad.test. after the fix %+v (signed %v), want loaded and signed", b, dn.Signed("bad.test."))
	}
	if ok, why := dn.CanSign("bad.test."); !ok {
		t.Errorf("bad.test. cannot sign after the fix: %s", why)
	}
	if err := dn.RetryZones(context.Background(), zs); err != nil {
		t.Errorf("retry with nothing withheld: %v", err)
	}
}

// TestServerWideKeyFailures: what every zone needs stops the start with one error rather than
// withholding every zone: a wrong passphrase, and a state directory for the zones' documents
// that cannot be written.
func TestServerWideKeyFailures(t *testing.T) {
	st := newKeyFailureSetup(t)
	pass := filepath.Join(st.state, "keystore.passphrase")
	right, err := os.ReadFile(pass)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pass, []byte("not-the-passphrase-of-these-keys\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.start(t); !errors.Is(err, keystore.ErrWrongPassphrase) {
		t.Errorf("wrong passphrase: %v, want ErrWrongPassphrase", err)
	}
	if err := os.WriteFile(pass, right, 0o600); err != nil {
		t.Fatal(err)
	}

	zones := filepath.Join(st.state, "zones")
	if err := os.RemoveAll(zones); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zones, nil, 0o600); err != nil { // a file where the directory goes
		t.Fatal(err)
	}
	if _, _, err := st.start(t); err == nil || !strings.Contains(err.Error(), zones) {
		t.Errorf("zones directory not writable: %v, want an error naming %s", err, zones)
	}
}

// TestZoneOnly: only a zone's own key failure withholds it; losing the key leadership or a
// state changed by another writer stop the start, as any other error does.
func TestZoneOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"corrupt state", &keymgr.ZoneError{Zone: "a.test.", Err: errors.New("keymgr: state of a.test.: invalid character")}, true},
		{"wrapped", fmt.Errorf("zone a.test.: %w", &keymgr.ZoneError{Zone: "a.test.", Err: errors.New("no key ring")}), true},
		{"not the leader", &keymgr.ZoneError{Zone: "a.test.", Err: fmt.Errorf("create KSK: %w", etcdkeys.ErrNotLeader)}, false},
		{"conflict", &keymgr.ZoneError{Zone: "a.test.", Err: fmt.Errorf("keymgr: save state: %w", statestore.ErrConflict)}, false},
		{"other", errors.New("zone a.test.: rollover policy: invalid"), false},
		{"none", nil, false},
	} {
		if got := zoneOnly(tc.err) != nil; got != tc.want {
			t.Errorf("%s: zoneOnly(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
