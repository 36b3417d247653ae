package tpmtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long Start waits for swtpm to listen.
const startTimeout = 10 * time.Second

// SWTPM is a running (or stopped) swtpm process with a persistent state
// directory. Its methods are safe for concurrent use.
type SWTPM struct {
	t     testing.TB
	bin   string
	dir   string // short temporary directory: unix socket paths are limited to 108 bytes
	state string
	sock  string
	ctrl  string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	output *bytes.Buffer
}

// StartSWTPM starts an swtpm with fresh state (a new "TPM", manufactured on
// first start) listening on a unix socket, and stops it when the test ends.
func StartSWTPM(t testing.TB) *SWTPM {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("swtpm not installed: run scripts/install-test-deps.sh")
		}
		t.Skip("swtpm not installed: run scripts/install-test-deps.sh")
	}
	// Not t.TempDir: its path includes the test name and can exceed the
	// 108-byte limit of a unix socket path.
	dir, err := os.MkdirTemp("", "swtpm")
	if err != nil {
		t.Fatal(err)
	}
	s := &SWTPM{
		t:     t,
		bin:   bin,
		dir:   dir,
		state: filepath.Join(dir, "state"),
		sock:  filepath.Join(dir, "tpm.sock"),
		ctrl:  filepath.Join(dir, "ctrl.sock"),
	}
	if err := os.Mkdir(s.state, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		_ = os.RemoveAll(dir)
	})
	s.Start()
	return s
}

// Addr returns the device string for the TPM backend: "unix:" and the
// socket path.
func (s *SWTPM) Addr() string { return "unix:" + s.sock }

// StateDir returns the directory holding the TPM's persistent state (its
// seeds); it survives Stop and Start.
func (s *SWTPM) StateDir() string { return s.state }

// Start starts swtpm over the existing state, as a reboot of the same TPM
// would. It fails the test if swtpm does not come up. Starting a running
// swtpm does nothing.
func (s *SWTPM) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	// A socket file left by a killed process would make the readiness check
	// below pass before the new process listens.
	for _, p := range []string{s.sock, s.ctrl} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.t.Fatal(err)
		}
	}
	cmd := exec.Command(s.bin, "socket", "--tpm2",
		"--server", "type=unixio,path="+s.sock,
		"--ctrl", "type=unixio,path="+s.ctrl,
		"--tpmstate", "dir="+s.state,
		"--flags", "not-need-init,startup-clear")
	out := new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start swtpm: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	if err := waitReady([]string{s.ctrl, s.sock}, exited); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		s.t.Fatalf("swtpm did not start: %v\n%s", err, out.String())
	}
	s.cmd, s.exited, s.output = cmd, exited, out
}

// waitReady waits until swtpm accepts connections on each of socks, or exits.
// Checking that this very process is alive matters: a stale swtpm could
// otherwise answer. A connection that sends nothing is harmless: swtpm goes
// back to accept when it closes.
func waitReady(socks []string, exited <-chan struct{}) error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for len(socks) > 0 {
			c, err := net.DialTimeout("unix", socks[0], time.Second)
			if err != nil {
				break
			}
			c.Close()
			socks = socks[1:]
		}
		if len(socks) == 0 {
			return nil
		}
		select {
		case <-exited:
			return errors.New("process exited")
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after %v", socks[0], startTimeout)
		}
	}
}

// Stop kills swtpm with SIGKILL, as a crash or a pulled TPM would, and waits
// for it to exit. The state directory is kept. Stopping a stopped swtpm does
// nothing.
func (s *SWTPM) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("kill swtpm: %v", err)
	}
	<-s.exited
	s.cmd = nil
}

// Running reports whether the swtpm process is alive.
func (s *SWTPM) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}
