package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
	"github.com/signetdns/signet/internal/syncbuf"
)

// plain is a secondary that does not sign (NSD or Knot), a child process of the test.
type plain struct {
	name string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
	log  *syncbuf.Buffer
}

// startPlain runs the secondary's command and stops it when the test ends.
func startPlain(t *testing.T, name, addr string, args ...string) *plain {
	t.Helper()
	n := &plain{name: name, addr: addr, log: &syncbuf.Buffer{}}
	n.cmd = exec.Command(args[0], args[1:]...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			n.cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, n.log.String())
		}
	})
	return n
}

// startNSD runs nsd on addr as a secondary of example.test. from primary with TSIG key
// secret: transfers requested with the key (IXFR, falling back to AXFR), NOTIFY accepted with
// it, and AXFR of its own copy allowed from loopback so that the test can check it.
func startNSD(t *testing.T, addr, primary, secret string) *plain {
	t.Helper()
	resolvertest.RequireTool(t, "nsd")
	dir := t.TempDir()
	host, port, _ := strings.Cut(addr, ":")
	conf := fmt.Sprintf(`server:
    ip-address: %[1]s@%[2]s
    port: %[2]s
    username: ""
    chroot: ""
    database: ""
    zonesdir: "%[3]s"
    xfrdir: "%[3]s"
    pidfile: "%[3]s/nsd.pid"
    xfrdfile: "%[3]s/xfrd.state"
    zonelistfile: "%[3]s/zone.list"
    rrl-ratelimit: 0
    verbosity: 2
    server-count: 1
remote-control:
    control-enable: no
key:
    name: xfr-key.
    algorithm: hmac-sha256
    secret: "%[4]s"
zone:
    name: example.test.
    zonefile: "%[3]s/example.test.zone"
    request-xfr: %[5]s xfr-key.
    allow-notify: 127.0.0.1 xfr-key.
    provide-xfr: 127.0.0.1 NOKEY
`, host, port, dir, secret, unboundAt(primary))
	path := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return startPlain(t, "nsd", addr, "nsd", "-d", "-c", path)
}

// startKnotSecondary runs knotd on addr as a plain secondary of example.test. from primary,
// with the key for transfers and NOTIFY, and transfers of its copy allowed from loopback.
func startKnotSecondary(t *testing.T, addr, primary, secret string) *plain {
	t.Helper()
	resolvertest.RequireTool(t, "knotd")
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := knotBase(unboundAt(addr), dir, secret, unboundAt(primary)) + fmt.Sprintf(`acl:
  - id: from-signet
    address: 127.0.0.1
    key: xfr-key.
    action: notify
  - id: copy-out
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    storage: %[1]s
    zonefile-sync: -1
    journal-content: changes
zone:
  - domain: example.test.
    master: signet
    acl: [from-signet, copy-out]
`, dir)
	path := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return startPlain(t, "knot", addr, "knotd", "-c", path)
}

// ask queries the secondary directly (TCP: signed answers are large).
func (n *plain) ask(t *testing.T, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, true)
	r, _, err := (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(m, n.addr)
	if err != nil {
		return nil
	}
	return r
}

// sigTag returns the key tag of the RRSIG over name/qtype in the secondary's answer, or 0.
func (n *plain) sigTag(t *testing.T, name string, qtype uint16) uint16 {
	r := n.ask(t, name, qtype)
	if r == nil {
		return 0
	}
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == qtype {
			return s.KeyTag
		}
	}
	return 0
}

// verifyCopy takes the secondary's whole copy by AXFR and has ldns-verify-zone check every
// signature and the NSEC chain.
func (n *plain) verifyCopy(t *testing.T, step string) {
	t.Helper()
	verify := resolvertest.RequireTool(t, "ldns-verify-zone")
	// A secondary that has just taken a new version may still answer from a server process
	// that holds the old one (NSD forks new ones on a reload and the old ones answer until
	// they exit: NOTAUTH for a zone they never had), so a failed AXFR is asked again.
	var b strings.Builder
	var records int
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if records, err = n.axfr(&b); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: AXFR from %s: %v", step, n.name, err)
		}
	}
	file := filepath.Join(t.TempDir(), "copy.zone")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(verify, file).CombinedOutput()
	t.Logf("%s: ldns-verify-zone on %s's copy (%d records): %s", step, n.name, records, strings.TrimSpace(string(out)))
	if err != nil || !strings.Contains(string(out), "Zone is verified and complete") {
		t.Fatalf("%s: ldns-verify-zone: %v\n%s", step, err, out)
	}
}

// axfr transfers example.test. from the secondary into b (reset first), without the closing
// SOA, and returns the number of records.
func (n *plain) axfr(b *strings.Builder) (int, error) {
	b.Reset()
	m := new(dns.Msg)
	m.SetAxfr("example.test.")
	ch, err := new(dns.Transfer).In(m, n.addr)
	if err != nil {
		return 0, err
	}
	records := 0
	for env := range ch {
		if env.Error != nil {
			for range ch {
			}
			return 0, env.Error
		}
		for i, rr := range env.RR {
			if records > 0 && i == len(env.RR)-1 && rr.Header().Rrtype == dns.TypeSOA {
				continue // the closing SOA
			}
			b.WriteString(rr.String() + "\n")
			records++
		}
	}
	return records, nil
}

// validatesThrough checks with delv, trusting only the zone's DS, that the secondary's answers
// validate: an answer, a missing name, an empty non-terminal, a wildcard and the keys.
func validatesThrough(t *testing.T, step string, n *plain, anchors []dns.RR) {
	t.Helper()
	for _, q := range []struct{ name, qtype string }{
		{"www.example.test.", "A"}, {"missing.example.test.", "A"}, {"b.ent.example.test.", "A"},
		{"x.wild.example.test.", "TXT"}, {"www.example.test.", "MX"}, {"example.test.", "DNSKEY"},
	} {
		out, ok := resolvertest.Delv(t, n.addr, anchors, q.name, q.qtype)
		if !ok {
			t.Fatalf("%s: delv %s %s through %s not fully validated:\n%s", step, q.name, q.qtype, n.name, out)
		}
	}
}

// TestFeedingNSD: NSD (with an NSEC and with an NSEC3 chain) and Knot (NSEC3) as plain
// secondaries of Signet with TSIG. The fully signed zone each receives (the chain, every RRset
// signed) passes ldns-verify-zone, its answers validate in delv with the zone's DS, and after a
// ZSK rollover on Signet its copy, updated by IXFR, still does. Transfers without the key are
// refused.
func TestFeedingNSD(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, mode string
		start      func(t *testing.T, addr, primary, secret string) *plain
	}{
		{"nsd/nsec", "nsec", startNSD},
		{"nsd/nsec3", "nsec3", startNSD},
		{"knot/nsec3", "nsec3", startKnotSecondary},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			feedPlain(t, c.mode, c.start)
		})
	}
}

func feedPlain(t *testing.T, mode string, start func(t *testing.T, addr, primary, secret string) *plain) {
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := base64.StdEncoding.EncodeToString(raw)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "xfr-key.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	zoneFile := copyZone(t, dir, "example.test.zone")
	nsdAddr := fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1"))
	s := startSignetConfig(t, func(addr string) string {
		return fmt.Sprintf(`dnssec:
  enabled: true
  denial: %s
  dnskey_ttl: 1
  propagation_delay: 1s
tsig_keys:
  - name: xfr-key.
    algorithm: hmac-sha256
    secret_file: %s
zones:
  - origin: example.test.
    file: %s
    secondaries: [%q]
    transfer: signed
    tsig: xfr-key.
`, mode, secretFile, zoneFile, nsdAddr)
	})
	anchors := resolvertest.ParseAnchors(t, s.ds(t, "example.test."))

	// Without the key, and from an address that is not a secondary, no transfer.
	m := new(dns.Msg)
	m.SetAxfr("example.test.")
	if ch, err := new(dns.Transfer).In(m, s.Addr); err == nil {
		for env := range ch {
			if env.Error == nil {
				t.Fatalf("AXFR without TSIG succeeded: %v", env.RR)
			}
		}
	}

	n := start(t, nsdAddr, s.Addr, secret)
	var zsk uint16
	waitFor(t, 10*time.Second, "the secondary serving the signed zone", func() bool {
		zsk = n.sigTag(t, "www.example.test.", dns.TypeA)
		return zsk != 0
	})
	n.verifyCopy(t, "first transfer")
	validatesThrough(t, "first transfer", n, anchors)

	// An IXFR over UDP gets the SOA alone (RFC 1995 §2), so a client that is behind asks
	// again over TCP; without the key, nothing.
	host, port := splitAddr(t, s.Addr)
	soaLine := regexp.MustCompile(`(?m)^example\.test\.\s+\d+\s+IN\s+SOA\s.*$`)
	udpIXFR := resolvertest.Dig(t, "@"+host, "-p", port, "+notcp", "-y", "hmac-sha256:xfr-key.:"+secret, "example.test.", "IXFR=1")
	if soas := soaLine.FindAllString(udpIXFR, -1); len(soas) != 1 || !strings.Contains(udpIXFR, "(UDP)") || !strings.Contains(udpIXFR, "TSIG") {
		t.Fatalf("IXFR over UDP: want one SOA, signed:\n%s", udpIXFR)
	}
	if out := resolvertest.Dig(t, "@"+host, "-p", port, "+notcp", "example.test.", "IXFR=1"); soaLine.MatchString(out) {
		t.Fatalf("IXFR over UDP without the key answered:\n%s", out)
	}

	// A ZSK rollover on Signet: the new key is published, then signs; each step reaches the
	// secondary as a new version by IXFR.
	s.run(t, "zsk", "rollover", "example.test.", "--now")
	waitFor(t, 30*time.Second, "the secondary's copy signed by the new ZSK", func() bool {
		tag := n.sigTag(t, "www.example.test.", dns.TypeA)
		return tag != 0 && tag != zsk
	})
	if log := s.log.String(); !strings.Contains(log, "kind=IXFR") {
		t.Fatalf("the rollover did not reach the secondary by IXFR; signet log:\n%s", log)
	}
	for _, line := range strings.Split(s.log.String(), "\n") {
		if strings.Contains(line, "transferred out") || strings.Contains(line, "version made") {
			t.Log(line)
		}
	}
	n.verifyCopy(t, "after the ZSK rollover")
	validatesThrough(t, "after the ZSK rollover", n, anchors)
	// Signet's own answers carry the serial of the version the secondary holds: secondaries
	// compare an SOA query's serial with theirs before transferring.
	waitFor(t, 5*time.Second, "the same serial on both", func() bool {
		a, b := s.query(t, "example.test.", dns.TypeSOA, false), n.ask(t, "example.test.", dns.TypeSOA)
		return a != nil && b != nil && len(a.Answer) > 0 && len(b.Answer) > 0 &&
			a.Answer[0].(*dns.SOA).Serial == b.Answer[0].(*dns.SOA).Serial
	})
}

// TestSignetToSignet: one Signet offers a zone unsigned (transfer: unsigned) to another that
// signs it as a secondary: the bump in the wire built from two Signets. A change on the first
// reaches the second by IXFR and is signed there (delv validates with the second's DS).
func TestSignetToSignet(t *testing.T) {
	t.Parallel()
	raw := make([]byte, 32)
	rand.Read(raw)
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "xfr-key.secret")
	if err := os.WriteFile(secretFile, []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	zoneFile := filepath.Join(dir, "prim.test.zone")
	if err := os.WriteFile(zoneFile, []byte(strings.Replace(knotZone(1), "60 1 8 5", "1 1 600 5", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := fmt.Sprintf("tsig_keys:\n  - {name: xfr-key., algorithm: hmac-sha256, secret_file: %s}\n", secretFile)
	primary := startSignetConfig(t, func(string) string {
		// The secondary's port is not known yet: the address alone lets it transfer; it
		// polls every second (SOA refresh 1) instead of waiting for a NOTIFY.
		return keys + fmt.Sprintf("zones:\n  - origin: prim.test.\n    file: %s\n    secondaries: [\"127.0.0.1\"]\n    transfer: unsigned\n    tsig: xfr-key.\n", zoneFile)
	})
	second := startSignetConfig(t, func(string) string {
		return keys + fmt.Sprintf("zones:\n  - origin: prim.test.\n    primaries: [%q]\n    tsig: xfr-key.\n", primary.Addr)
	}, "--dnssec")
	waitFor(t, 5*time.Second, "the first transfer", func() bool {
		return aOf(second.query(t, "www.prim.test.", dns.TypeA, false)) == "192.0.2.1"
	})
	if r := primary.query(t, "www.prim.test.", dns.TypeA, true); countType(r.Answer, dns.TypeRRSIG) != 0 {
		t.Fatalf("the primary signs: %v", r)
	}

	if err := os.WriteFile(zoneFile, []byte(strings.Replace(knotZone(2), "60 1 8 5", "1 1 600 5", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	primary.run(t, "reload")
	waitFor(t, 5*time.Second, "the change on the secondary", func() bool {
		return aOf(second.query(t, "www.prim.test.", dns.TypeA, false)) == "192.0.2.2"
	})
	if !strings.Contains(primary.log.String(), "kind=IXFR") || !strings.Contains(second.log.String(), "source=\"IXFR from") {
		t.Fatalf("the change did not travel by IXFR:\n%s\n%s", primary.log.String(), second.log.String())
	}
	anchors := resolvertest.ParseAnchors(t, second.ds(t, "prim.test."))
	for _, q := range []struct{ name, qtype string }{{"www.prim.test.", "A"}, {"v2.prim.test.", "TXT"}, {"v1.prim.test.", "TXT"}} {
		if out, ok := resolvertest.Delv(t, second.Addr, anchors, q.name, q.qtype); !ok {
			t.Fatalf("delv %s %s on the signing secondary:\n%s", q.name, q.qtype, out)
		}
	}
}
