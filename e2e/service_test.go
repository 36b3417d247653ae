package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/signetdns/signet/internal/resolvertest"
)

// TestSystemdNotify plays systemd's part of Type=notify: it hands the real binary a
// NOTIFY_SOCKET and checks that READY=1 arrives only once the server answers queries (after
// the "ready" line), again after a SIGHUP reload, and STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	msgs := make(chan string, 10)
	go func() {
		buf := make([]byte, 512)
		for {
			n, _, err := ln.ReadFromUnix(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()

	addr := fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1"))
	cmd := exec.Command(signetBin, "serve", "--listen", addr, "--admin", "off", "--state", filepath.Join(dir, "state"),
		"--zone", "example.test.=../testdata/example.test.zone")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	readyLine := make(chan time.Time, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if sc.Text() == "ready" {
				readyLine <- time.Now()
			}
		}
	}()

	expect := func(want string) time.Time {
		t.Helper()
		select {
		case m, ok := <-msgs:
			if !ok || m != want {
				t.Fatalf("notify socket got %q, want %q", m, want)
			}
			return time.Now()
		case <-time.After(20 * time.Second):
			t.Fatalf("no %q on the notify socket", want)
		}
		return time.Time{}
	}
	expect("READY=1")
	select {
	case <-readyLine:
	case <-time.After(5 * time.Second):
		t.Fatal("READY=1 came but no ready line")
	}
	s := &signet{Addr: addr}
	if r := s.query(t, "www.example.test.", 1, false); len(r.Answer) == 0 {
		t.Fatalf("READY=1 sent, but www.example.test. gets no answer: %v", r)
	}

	cmd.Process.Signal(syscall.SIGHUP)
	expect("READY=1")
	cmd.Process.Signal(syscall.SIGTERM)
	expect("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	select {
	case m, ok := <-msgs:
		if ok && strings.TrimSpace(m) != "" {
			t.Fatalf("unexpected notification %q after STOPPING=1", m)
		}
	default:
	}
}
