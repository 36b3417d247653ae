package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestSignalsAndReload drives the process as an operator does: SIGHUP reloads the zone files
// (a broken file keeps the old data and the log names file and line), SIGTERM stops it
// cleanly with exit status 0.
func TestSignalsAndReload(t *testing.T) {
	dir := t.TempDir()
	zone := filepath.Join(dir, "hup.test.zone")
	const head = "$ORIGIN hup.test.\n$TTL 60\n@ SOA ns host 1 7200 3600 1209600 60\n@ NS ns\nns A 192.0.2.1\n"
	write := func(body string) {
		if err := os.WriteFile(zone, []byte(head+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("www A 192.0.2.10\n")
	s := startSignet(t, "", "--zone", "hup.test.="+zone)
	answer := func() string {
		r := s.query(t, "www.hup.test.", dns.TypeA, false)
		if len(r.Answer) != 1 {
			t.Fatalf("no answer: %v", r)
		}
		return r.Answer[0].(*dns.A).A.String()
	}
	waitFor := func(want string) {
		deadline := time.Now().Add(5 * time.Second)
		for answer() != want && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := answer(); got != want {
			t.Fatalf("answer %s, want %s", got, want)
		}
	}

	write("www A 192.0.2.20\n")
	s.cmd.Process.Signal(syscall.SIGHUP)
	waitFor("192.0.2.20")

	write("www A 192.0.2.30\nbad A 999.1.1.1\n")
	s.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(s.log.String(), "hup.test.zone:7") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(s.log.String(), "hup.test.zone:7") {
		t.Fatalf("the log does not name the broken file and line:\n%s", s.log.String())
	}
	if got := answer(); got != "192.0.2.20" {
		t.Fatalf("after a broken reload: %s, want the old 192.0.2.20", got)
	}

	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	if code := s.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0\n%s", code, s.log.String())
	}
}
