package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestBrokenZoneAtStart runs the real binary with two signed zones, one of whose files does not
// parse. By default the server starts: the good zone answers, the broken one answers SERVFAIL
// with an Extended DNS Error, and `signet zone status`, the log and /metrics name the file and
// line; a SIGHUP after the fix serves it. With --strict the same start fails, naming the file
// and line.
func TestBrokenZoneAtStart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, origin, body string) string {
		p := filepath.Join(dir, name)
		head := "$ORIGIN " + origin + "\n$TTL 60\n@ SOA ns host 1 7200 3600 1209600 60\n@ NS ns\nns A 192.0.2.1\n"
		if err := os.WriteFile(p, []byte(head+body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.zone", "good.test.", "www A 192.0.2.10\n")
	bad := write("bad.zone", "bad.test.", "www A 192.0.2.20\noops A 999.0.0.1\n")
	zones := []string{"--dnssec", "--zone", "good.test.=" + good, "--zone", "bad.test.=" + bad}

	t.Run("strict", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		args := append([]string{"serve", "--strict", "--listen", "127.0.0.1:0", "--admin", "off", "--state", filepath.Join(t.TempDir(), "state")}, zones...)
		out, err := exec.CommandContext(ctx, signetBin, args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() == 0 || ctx.Err() != nil {
			t.Fatalf("serve --strict: %v, want a non-zero exit\n%s", err, out)
		}
		if !strings.Contains(string(out), bad+":7") || strings.Contains(string(out), "\nready\n") {
			t.Errorf("serve --strict output does not name %s:7 (or said ready):\n%s", bad, out)
		}
	})

	s := startSignet(t, "", zones...)
	if r := s.query(t, "www.good.test.", dns.TypeA, true); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		t.Errorf("good zone: %v, want a signed answer", r)
	}
	r := s.query(t, "www.bad.test.", dns.TypeA, true)
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("broken zone: %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	ede := false
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_EDE); ok && e.InfoCode == dns.ExtendedErrorCodeNotReady {
				ede = true
			}
		}
	}
	if !ede {
		t.Errorf("broken zone: no Extended DNS Error Not Ready in %v", r)
	}
	if !strings.Contains(s.log.String(), bad+":7") {
		t.Errorf("the log does not name %s:7", bad)
	}
	out, err := s.try("zone", "status")
	if err == nil || !strings.Contains(out, "bad.test.") || !strings.Contains(out, "SERVFAIL") || !strings.Contains(out, bad+":7") {
		t.Errorf("zone status: %v\n%s", err, out)
	}
	fams := scrape(t, s)
	if v := metric(t, fams, "signet_zone_load_failing", "zone", "bad.test."); v != 1 {
		t.Errorf("signet_zone_load_failing{bad.test.} = %v, want 1", v)
	}
	if v := metric(t, fams, "signet_zone_load_failing", "zone", "good.test."); v != 0 {
		t.Errorf("signet_zone_load_failing{good.test.} = %v, want 0", v)
	}

	write("bad.zone", "bad.test.", "www A 192.0.2.20\n")
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for s.query(t, "www.bad.test.", dns.TypeA, true).Rcode != dns.RcodeSuccess && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if r := s.query(t, "www.bad.test.", dns.TypeA, true); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		t.Fatalf("after the fix and SIGHUP: %v, want a signed answer", r)
	}
	if out := s.run(t, "zone", "status"); strings.Contains(out, "SERVFAIL") {
		t.Errorf("zone status after the fix:\n%s", out)
	}
}
