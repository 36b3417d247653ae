package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
	"github.com/signetdns/signet/internal/syncbuf"
)

var signetBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "signet-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	signetBin = filepath.Join(dir, "signet")
	build := exec.Command("go", "build", "-o", signetBin, "../cmd/signet")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building signet:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// signet is a running `signet serve` child process.
type signet struct {
	Addr  string // DNS, UDP and TCP
	Admin string
	State string
	cmd   *exec.Cmd
	args  []string
	log   *syncbuf.Buffer
	done  chan struct{}
}

// startSignet runs `signet serve` on loopback with a fresh state directory (unless state is
// given) and waits for its "ready" line.
func startSignet(t *testing.T, state string, args ...string) *signet {
	t.Helper()
	if state == "" {
		state = filepath.Join(t.TempDir(), "state")
	}
	s := &signet{
		Addr:  fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1")),
		Admin: fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1")),
		State: state,
		args:  args,
	}
	s.start(t)
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("signet log:\n%s", s.log.String())
		}
	})
	return s
}

func (s *signet) start(t *testing.T) {
	t.Helper()
	full := append([]string{"serve", "--listen", s.Addr, "--admin", s.Admin, "--state", s.State, "--log-level", "debug"}, s.args...)
	s.cmd = exec.Command(signetBin, full...)
	s.log = &syncbuf.Buffer{}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	s.done = make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(s.log, line)
			if line == "ready" {
				once.Do(func() { close(ready) })
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { s.cmd.Wait(); close(s.done) }()
	select {
	case <-ready:
	case <-s.done:
		t.Fatalf("signet exited before ready:\n%s", s.log.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("signet not ready after 30 s:\n%s", s.log.String())
	}
}

// kill stops the process with SIGKILL (a crash) and waits for it.
func (s *signet) kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// stop sends SIGTERM and waits.
func (s *signet) stop(t *testing.T) {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("signet did not stop on SIGTERM")
	}
}

// run runs a signet CLI command against this server, found as operators find it: through the
// control socket in its state directory.
func (s *signet) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.try(args...)
	if err != nil {
		t.Fatalf("signet %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *signet) try(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, signetBin, append(args, "--state", s.State)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ds returns the zone's DS records as the CLI prints them for trust anchors.
func (s *signet) ds(t *testing.T, zone string) string {
	t.Helper()
	return strings.TrimSpace(s.run(t, "ds", zone, "--format", "zone"))
}

// query asks Signet directly.
func (s *signet) query(t *testing.T, name string, qtype uint16, do bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = false
	m.SetEdns0(1232, do)
	c := &dns.Client{Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, s.Addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.Exchange(m, s.Addr)
	}
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// unboundAt is unbound's spelling of host:port.
func unboundAt(addr string) string {
	h, p, _ := net.SplitHostPort(addr)
	return h + "@" + p
}
