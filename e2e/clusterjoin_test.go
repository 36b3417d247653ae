package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/internal/resolvertest"
)

// joinLab is a single server made the first member of a cluster: its files and the cluster's
// members' identities.
type joinLab struct {
	dir, zone, pass string
	etcd            *etcdtest.Cluster
	ids             []*age.X25519Identity
}

const joinZone = "signed.example.test."

// config is an instance's configuration: a single server's when name is "", else member
// name's of the cluster whose recipients are the first n identities.
func (l *joinLab) config(t *testing.T, name string, n int) string {
	t.Helper()
	body := fmt.Sprintf(`keystore:
  passphrase_file: %s
  work_factor: 10
dnssec:
  enabled: true
  dnskey_ttl: 1
zones:
  - origin: %s
    file: %s
`, l.pass, joinZone, l.zone)
	if name != "" {
		var rcpts []string
		for _, id := range l.ids[:n] {
			rcpts = append(rcpts, id.Recipient().String())
		}
		i := int(name[len(name)-1] - '1')
		idFile := filepath.Join(l.dir, name+".age")
		if err := os.WriteFile(idFile, []byte(l.ids[i].String()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		body += fmt.Sprintf(`cluster:
  name: %s
  id: joined
  lease_ttl: 2s
  etcd:
    endpoints: [%s]
  recipients: [%s]
  identity_file: %s
`, name, strings.Join(l.etcd.Endpoints(), ", "), strings.Join(rcpts, ", "), idFile)
	} else {
		name = "single"
	}
	path := filepath.Join(l.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// join runs `signet cluster join` on a state directory.
func join(cfg, state string) (string, error) {
	out, err := exec.Command(signetBin, "cluster", "join", "--config", cfg, "--state", state).CombinedOutput()
	return string(out), err
}

// TestClusterJoin: a single server signs a zone; `signet cluster join` imports its state into
// etcd; three instances then serve, the joined one leading with its KSK (its key directory
// copied to the others, as the README says). Every instance serves the DNSKEY RRset the
// single server served, and answers validate (delv) against the DS taken before the join.
// A second join is refused, naming the leader.
func TestClusterJoin(t *testing.T) {
	resolvertest.RequireTool(t, "delv")
	l := &joinLab{dir: t.TempDir(), etcd: etcdtest.Start(t, 1)}
	l.zone, l.pass = filepath.Join(l.dir, "zone"), filepath.Join(l.dir, "passphrase")
	if err := writeZone(l.zone, tinyZone(t, "signed.example.test.zone", 2)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.pass, []byte("one passphrase for every instance\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		l.ids = append(l.ids, id)
	}

	// The single server: its keys, its DNSKEY RRset and the DS the parent holds.
	single := startSignet(t, filepath.Join(l.dir, "ns1"), "--config", l.config(t, "", 0))
	before := dnskeys(single)
	if strings.Count(before, "257:") != 1 || strings.Count(before, "256:") != 1 {
		t.Fatalf("the single server serves %q, want one KSK and one ZSK", before)
	}
	oldDS := resolvertest.ParseAnchors(t, single.ds(t, joinZone))
	if out, err := join(l.config(t, "ns1", 3), single.State); err == nil || !strings.Contains(out, "stop it") {
		t.Fatalf("a join while the single server runs: %v\n%s", err, out)
	}
	single.stop(t)

	out, err := join(l.config(t, "ns1", 3), single.State)
	if err != nil || !strings.Contains(out, joinZone+"  imported  1") {
		t.Fatalf("signet cluster join: %v\n%s", err, out)
	}
	t.Logf("signet cluster join:\n%s", out)
	checkPrivateDir(t, single.State)

	// Three members on 127.0.0.41-43; the others get a copy of the KSK's directory.
	port := resolvertest.FreePort(t, "127.0.0.41")
	var ins []*signet
	for i := range 3 {
		name := fmt.Sprintf("ns%d", i+1)
		state := filepath.Join(l.dir, name)
		if i > 0 {
			copyDir(t, filepath.Join(single.State, "keys"), filepath.Join(state, "keys"))
		}
		s := &signet{Addr: fmt.Sprintf("127.0.0.%d:%d", 41+i, port),
			Admin: fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1")), State: state,
			args: []string{"--config", l.config(t, name, 3)}}
		s.start(t)
		t.Cleanup(func() {
			s.kill()
			if t.Failed() {
				t.Logf("%s log:\n%s", name, s.log.String())
			}
		})
		ins = append(ins, s)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got []string
		for _, s := range ins {
			got = append(got, dnskeys(s))
		}
		if slices.Equal(got, []string{before, before, before}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the join the instances serve, 30 s on:\n%s\nwant the single server's\n%s", strings.Join(got, "\n"), before)
		}
		time.Sleep(200 * time.Millisecond)
	}
	status := ins[0].run(t, "cluster", "status")
	if !strings.Contains(status, "key leader: ns1") {
		t.Errorf("the joined server does not lead:\n%s", status)
	}
	for _, s := range ins {
		for _, q := range []struct{ name, qtype string }{{"www." + joinZone, "A"}, {joinZone, "DNSKEY"}, {"nope." + joinZone, "A"}} {
			if out, ok := resolvertest.Delv(t, s.Addr, oldDS, q.name, q.qtype); !ok {
				t.Errorf("%s %s at %s does not validate with the DS of before the join:\n%s", q.name, q.qtype, s.Addr, out)
			}
		}
	}

	// A second join (another single server, stopped) is refused and names the leader.
	other := startSignet(t, filepath.Join(l.dir, "other"), "--config", l.config(t, "", 0))
	other.stop(t)
	out, err = join(l.config(t, "ns2", 3), other.State)
	if err == nil || !strings.Contains(out, `instance "ns1" leads the cluster`) {
		t.Fatalf("a second join: %v\n%s", err, out)
	}

	// A fourth member with a new identity, after the keys exist: it cannot sign until the
	// leader, its recipients reloaded (SIGHUP), encrypts the ZSK to it; then it serves the same
	// keys (no ZSK rollover), its answers validating with the old DS. Its followers re-read
	// the state every 10 s; the watch of the keys makes it serve sooner.
	ns4 := &signet{Addr: fmt.Sprintf("127.0.0.44:%d", port),
		Admin: fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1")), State: filepath.Join(l.dir, "ns4"),
		args: []string{"--config", l.config(t, "ns4", 4)}}
	ns4.start(t)
	t.Cleanup(func() {
		ns4.kill()
		if t.Failed() {
			t.Logf("ns4 log:\n%s", ns4.log.String())
		}
	})
	// Until then it withholds the zone (SERVFAIL, EDE 14 Not Ready) rather than answer it
	// without signatures: resolvers ask another name server.
	var r *dns.Msg
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		r = ns4.query(t, "www."+joinZone, dns.TypeA, true)
		if signedAnswer(r) {
			t.Fatalf("the new member signs before the ZSK is encrypted to it: %v", r)
		}
		if r.Rcode == dns.RcodeServerFailure || time.Since(start) > 10*time.Second {
			break
		}
	}
	if r.Rcode != dns.RcodeServerFailure || edeOf(r) != dns.ExtendedErrorCodeNotReady {
		t.Fatalf("the new member, unable to sign yet, answers %v; want SERVFAIL with EDE 14", r)
	}
	for i, s := range ins {
		l.config(t, fmt.Sprintf("ns%d", i+1), 4)
		if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	reloaded := time.Now()
	for dnskeys(ns4) != before || !signedAnswer(ns4.query(t, "www."+joinZone, dns.TypeA, true)) {
		if time.Since(reloaded) > 30*time.Second {
			t.Fatalf("the new member does not serve 30 s after the recipients were reloaded: %q", dnskeys(ns4))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("the new member serves %v after the reload", time.Since(reloaded).Round(10*time.Millisecond))
	if d := time.Since(reloaded); d > 8*time.Second {
		t.Errorf("the new member served only %v after the reload (the key watch should make it seconds)", d)
	}
	if out, ok := resolvertest.Delv(t, ns4.Addr, oldDS, "www."+joinZone, "A"); !ok {
		t.Errorf("the new member's answer does not validate with the DS of before the join:\n%s", out)
	}
	if !strings.Contains(ins[0].log.String(), "shared ZSKs encrypted again to cluster.recipients") {
		t.Error("the leader did not log the re-encryption")
	}
}

// signedAnswer reports whether r is a NOERROR answer with an RRSIG.
func signedAnswer(r *dns.Msg) bool {
	if r.Rcode != dns.RcodeSuccess {
		return false
	}
	for _, rr := range r.Answer {
		if _, ok := rr.(*dns.RRSIG); ok {
			return true
		}
	}
	return false
}

// checkPrivateDir fails the test if a file under dir is readable by group or others, or a
// temporary file is left.
func checkPrivateDir(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Type() == os.ModeSocket {
			return nil
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", p, fi.Mode())
		}
		if strings.Contains(d.Name(), ".tmp") || (strings.HasPrefix(d.Name(), ".") && d.Name() != ".lock") {
			t.Errorf("%s: a temporary file left behind", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// copyDir copies the regular files of src into dst (created 0700), keeping their modes.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := e.Info()
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}
