package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
	"github.com/signetdns/signet/internal/syncbuf"
)

// knot is a Knot DNS primary, a child process of the test.
type knot struct {
	dir, conf, addr string
	cmd             *exec.Cmd
	done            chan struct{}
	log             *syncbuf.Buffer
}

// knotZone is the primary's zone at serial: www's address and one name depend on it. SOA
// timers: refresh 60 s (NOTIFY does the work), retry 1 s, expire 8 s, so that the test can
// watch a copy expire.
func knotZone(serial int) string {
	return fmt.Sprintf(`$ORIGIN prim.test.
$TTL 30
@	SOA	ns1 hostmaster %d 60 1 8 5
@	NS	ns1
ns1	A	192.0.2.53
www	A	192.0.2.%d
mail	A	192.0.2.25
v%d	TXT	"version %d"
`, serial, serial%250, serial, serial)
}

// knotBase is the part of a knotd configuration the e2e tests share: one worker of each kind
// listening on listen, its files and control socket under dir, the TSIG key xfr-key. with
// secret, and Signet at signet as the remote "signet" using that key. Callers append their
// acl, template and zone sections.
func knotBase(listen, dir, secret, signet string) string {
	return fmt.Sprintf(`server:
    listen: %[1]s
    rundir: %[2]s
    pidfile: %[2]s/knot.pid
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: %[2]s/knot.sock
log:
  - target: stderr
    any: info
database:
    storage: %[2]s/db
key:
  - id: xfr-key.
    algorithm: hmac-sha256
    secret: %[3]s
remote:
  - id: signet
    address: %[4]s
    key: xfr-key.
`, listen, dir, secret, signet)
}

// startKnot runs knotd on addr as the primary of prim.test. with TSIG key secret, allowing
// transfers only with the key and sending NOTIFY (signed) to notify.
func startKnot(t *testing.T, secret, notify, addr string) *knot {
	t.Helper()
	resolvertest.RequireTool(t, "knotd")
	resolvertest.RequireTool(t, "knotc")
	k := &knot{dir: t.TempDir(), addr: addr}
	k.conf = filepath.Join(k.dir, "knot.conf")
	conf := knotBase(unboundAt(k.addr), k.dir, secret, unboundAt(notify)) + fmt.Sprintf(`acl:
  - id: xfr
    address: 127.0.0.1
    key: xfr-key.
    action: transfer
template:
  - id: default
    storage: %[1]s
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
zone:
  - domain: prim.test.
    file: %[1]s/prim.test.zone
    notify: signet
    acl: xfr
`, k.dir)
	if err := os.WriteFile(k.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(k.dir, "db"), 0o700); err != nil { // the journal lives there
		t.Fatal(err)
	}
	k.setZone(t, 1)
	k.cmd = exec.Command("knotd", "-c", k.conf)
	k.log = &syncbuf.Buffer{}
	k.cmd.Stdout, k.cmd.Stderr = k.log, k.log
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	k.done = make(chan struct{})
	go func() { k.cmd.Wait(); close(k.done) }()
	t.Cleanup(func() {
		k.stop()
		if t.Failed() {
			t.Logf("knot log:\n%s", k.log.String())
		}
	})
	// Ready when it answers the zone's SOA (with the key: transfers need it, queries do not).
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := new(dns.Msg)
		m.SetQuestion("prim.test.", dns.TypeSOA)
		if r, _, err := (&dns.Client{Timeout: 500 * time.Millisecond}).Exchange(m, k.addr); err == nil && r.Rcode == dns.RcodeSuccess {
			return k
		}
		if time.Now().After(deadline) {
			t.Fatalf("knotd not answering after 10 s:\n%s", k.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (k *knot) setZone(t *testing.T, serial int) {
	t.Helper()
	path := filepath.Join(k.dir, "prim.test.zone")
	if err := os.WriteFile(path+".tmp", []byte(knotZone(serial)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

// update publishes serial on the primary: the zone file changes and knotc reloads it, which
// journals the difference (IXFR) and sends NOTIFY.
func (k *knot) update(t *testing.T, serial int) {
	t.Helper()
	k.setZone(t, serial)
	out, err := exec.Command("knotc", "-c", k.conf, "zone-reload", "prim.test.").CombinedOutput()
	if err != nil {
		t.Fatalf("knotc zone-reload: %v\n%s", err, out)
	}
}

func (k *knot) stop() {
	if k.cmd == nil || k.cmd.Process == nil {
		return
	}
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(5 * time.Second):
		k.cmd.Process.Kill()
		<-k.done
	}
}

// aOf returns the A address in Signet's direct answer, or "" and the rcode.
func aOf(r *dns.Msg) string {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

// TestSecondaryOfKnot: Signet as a signing secondary of a real Knot primary with TSIG. The
// first AXFR, an update reaching Signet's answers within a second by IXFR after Knot's NOTIFY,
// unbound validating before and after, the copy served after a restart with the primary gone,
// and SERVFAIL once the SOA expire time has passed.
func TestSecondaryOfKnot(t *testing.T) {
	t.Parallel()
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := base64.StdEncoding.EncodeToString(raw)
	cfgDir := t.TempDir()
	secretFile := filepath.Join(cfgDir, "xfr-key.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	knotAddr := fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1"))
	s := startSignetConfig(t, func(addr string) string {
		return fmt.Sprintf(`tsig_keys:
  - name: xfr-key.
    algorithm: hmac-sha256
    secret_file: %s
zones:
  - origin: prim.test.
    primaries: [%q]
    tsig: xfr-key.
`, secretFile, knotAddr)
	}, "--dnssec")

	// Before the primary exists the zone has no data: SERVFAIL with EDE Not Ready, not REFUSED.
	if r := s.query(t, "www.prim.test.", dns.TypeA, false); r.Rcode != dns.RcodeServerFailure || edeOf(r) != dns.ExtendedErrorCodeNotReady {
		t.Fatalf("before the first transfer: %s EDE %d, want SERVFAIL EDE 14\n%v", dns.RcodeToString[r.Rcode], edeOf(r), r)
	}

	k := startKnot(t, secret, s.Addr, knotAddr)
	waitFor(t, 5*time.Second, "the first transfer", func() bool {
		return aOf(s.query(t, "www.prim.test.", dns.TypeA, false)) == "192.0.2.1"
	})
	if r := s.query(t, "prim.test.", dns.TypeDNSKEY, true); len(r.Answer) < 3 {
		t.Fatalf("the transferred zone is not signed: %v", r)
	}
	u := resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
		Stubs:   map[string]string{"prim.test.": unboundAt(s.Addr)},
		Anchors: []string{s.ds(t, "prim.test.")},
	})
	expectAnswer(t, u, "after AXFR", "www.prim.test.", true, "192.0.2.1")

	// An update on the primary: Knot's NOTIFY makes Signet fetch it by IXFR at once.
	start := time.Now()
	k.update(t, 2)
	waitFor(t, time.Second, "the update within a second", func() bool {
		return aOf(s.query(t, "www.prim.test.", dns.TypeA, false)) == "192.0.2.2"
	})
	t.Logf("update visible after %v", time.Since(start).Round(time.Millisecond))
	if log := s.log.String(); !strings.Contains(log, "NOTIFY received") || !strings.Contains(log, "source=\"IXFR from") {
		t.Fatalf("the update did not come by NOTIFY and IXFR; log:\n%s", log)
	}
	if r := u.Query(t, "v2.prim.test.", dns.TypeTXT); r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData || len(r.Answer) == 0 {
		t.Fatalf("unbound after IXFR: %v", r)
	}
	// Compact denial (the default): a missing name is NOERROR with no answer, validated.
	if r := u.Query(t, "v1.prim.test.", dns.TypeTXT); r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData || len(r.Answer) != 0 {
		t.Fatalf("unbound, the name the IXFR deleted: %v", r)
	}

	// The primary goes away and Signet restarts: the saved copy serves.
	k.stop()
	s.stop(t)
	s.start(t)
	if got := aOf(s.query(t, "www.prim.test.", dns.TypeA, false)); got != "192.0.2.2" {
		t.Fatalf("after restart with the primary down: www = %q, want 192.0.2.2", got)
	}
	expectAnswer(t, u, "after restart", "mail.prim.test.", true, "192.0.2.25")

	// Past expire (8 s after the last successful refresh): SERVFAIL.
	waitFor(t, 15*time.Second, "SERVFAIL after expire", func() bool {
		return s.query(t, "www.prim.test.", dns.TypeA, false).Rcode == dns.RcodeServerFailure
	})
	if r := s.query(t, "www.prim.test.", dns.TypeA, false); edeOf(r) != dns.ExtendedErrorCodeNoReachableAuthority {
		t.Fatalf("after expire: EDE %d, want 22 (No Reachable Authority)\n%v", edeOf(r), r)
	}
	if !strings.Contains(s.log.String(), "zone expired") {
		t.Fatal("no log line says the zone expired")
	}
}

// edeOf returns the Extended DNS Error code of r (RFC 8914), or 0xFFFF when it has none.
func edeOf(r *dns.Msg) uint16 {
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok {
				return e.InfoCode
			}
		}
	}
	return 0xFFFF
}

// waitFor polls cond every 20 ms until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
