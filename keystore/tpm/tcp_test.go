package tpm

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
)

// TestTCPDevice runs the store over swtpm's TCP server ("tcp:HOST:PORT"),
// which carries the same raw command frames as the unix socket.
func TestTCPDevice(t *testing.T) {
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("swtpm not installed: run scripts/install-test-deps.sh")
		}
		t.Skip("swtpm not installed: run scripts/install-test-deps.sh")
	}
	port := freePort(t)
	state := t.TempDir()
	cmd := exec.Command(bin, "socket", "--tpm2",
		"--server", "type=tcp,port="+strconv.Itoa(port)+",bindaddr=127.0.0.1",
		"--ctrl", "type=tcp,port="+strconv.Itoa(port+1)+",bindaddr=127.0.0.1",
		"--tpmstate", "dir="+state, "--flags", "not-need-init,startup-clear")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// Wait for this process to listen on the control port (opened after the
	// server port); the server port is left alone since swtpm serves one
	// client at a time.
	ctrl := net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ctrl, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			t.Fatal("swtpm exited (port taken?)")
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("swtpm did not listen")
		}
	}
	s := openStore(t, filepath.Join(t.TempDir(), "keys"), "tcp:"+addr)
	ctx := context.Background()
	m, err := s.Create(ctx, "example.org.", keystore.KSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatalf("Create over TCP: %v", err)
	}
	mustSign(t, getSigner(t, s, m.ID), "over tcp")
}

// freePort returns a port with the next one also free, for swtpm's server
// and control sockets.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1))); err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no free port pair")
	return 0
}
