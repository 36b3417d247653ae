package resolvertest

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// installScript is named in failures so a CI log says how to fix a missing tool.
const installScript = "scripts/install-test-deps.sh"

// toolTimeout bounds every run of an external tool, so a hung resolver or a query that
// never gets an answer fails the test instead of stalling it until the go test deadline.
const toolTimeout = 30 * time.Second

// sbinDirs are searched after $PATH because unbound and its helpers live in /usr/sbin,
// which is often missing from a non-root user's PATH.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// RequireTool returns the path of the executable name. When it is missing the test is
// skipped, or, when the environment variable CI is "true", failed with a message naming
// scripts/install-test-deps.sh: CI must run the real validators, never skip them.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	if path, err := LookTool(name); err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found in $PATH or %v; run %s", name, sbinDirs, installScript)
	}
	t.Skipf("%s not found in $PATH or %v (run %s to install the test tools)", name, sbinDirs, installScript)
	return ""
}

// LookTool finds the executable name in $PATH or, failing that, in the sbin directories.
func LookTool(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil {
		return path, nil
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if fi, statErr := os.Stat(p); statErr == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", err
}

// FreePort returns a port on host (an IP address such as "127.0.0.1") that was free for
// both UDP and TCP a moment ago: DNS servers bind the same port number for both. It binds
// both and closes them, so another process could take the port before the caller does;
// that window is small on loopback. Prefer Listen when the server can take open sockets.
func FreePort(t testing.TB, host string) int {
	t.Helper()
	pc, ln := Listen(t, host)
	port := ln.Addr().(*net.TCPAddr).Port
	if err := errors.Join(pc.Close(), ln.Close()); err != nil {
		t.Fatalf("FreePort: close: %v", err)
	}
	return port
}

// Listen opens a UDP socket and a TCP listener on host with the same, kernel-chosen port,
// closed when the test ends. It retries a few times because the port the kernel picks for
// UDP may already be taken for TCP.
func Listen(t testing.TB, host string) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatalf("Listen: udp %s: %v", host, err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			lastErr = err
			_ = pc.Close()
			continue
		}
		// Closing twice (here and by the caller) only returns an error we ignore.
		t.Cleanup(func() { _ = pc.Close(); _ = ln.Close() })
		return pc, ln
	}
	t.Fatalf("Listen: no port free for both udp and tcp on %s: %v", host, lastErr)
	return nil, nil
}

// run executes the tool with args under toolTimeout and returns stdout and stderr. A
// non-zero exit is returned as an error carrying stderr, so callers can decide whether
// an exit status (dig's 9, "no servers reached") is a test failure.
func run(tool string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), toolTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	if ctx.Err() != nil {
		err = errors.Join(err, ctx.Err())
	}
	return out.String(), errb.String(), err
}
