package etcdtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Member is one etcd member process.
type Member struct {
	Name             string
	Client, PeerAddr string // host:port
	dir              string
	args             []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	log  *bytes.Buffer
}

// Cluster is a set of members started together.
type Cluster struct {
	Members []*Member
	t       testing.TB
	bin     string
}

// Endpoints returns the client URLs of every member.
func (c *Cluster) Endpoints() []string {
	out := make([]string, len(c.Members))
	for i, m := range c.Members {
		out[i] = "http://" + m.Client
	}
	return out
}

// binary returns the etcd server binary; a missing one fails the test: the project's
// scripts/install-test-deps.sh installs it (Debian's etcd-server).
func binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ETCD"); p != "" {
		return p
	}
	p, err := exec.LookPath("etcd")
	if err != nil {
		t.Fatalf("etcd server binary not found (install the etcd-server package: scripts/install-test-deps.sh): %v", err)
	}
	return p
}

// freePort returns a loopback port nobody listens on now.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start starts an n-member cluster on loopback and waits until every member answers its
// health endpoint; the members are killed when the test ends.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: binary(t)}
	var initial []string
	for i := range n {
		m := &Member{Name: fmt.Sprintf("m%d", i), Client: freePort(t), PeerAddr: freePort(t), dir: filepath.Join(t.TempDir(), "etcd")}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"=http://"+m.PeerAddr)
	}
	for _, m := range c.Members {
		m.args = []string{"--name", m.Name, "--data-dir", m.dir,
			"--listen-client-urls", "http://" + m.Client, "--advertise-client-urls", "http://" + m.Client,
			"--listen-peer-urls", "http://" + m.PeerAddr, "--initial-advertise-peer-urls", "http://" + m.PeerAddr,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "signet-test",
			// Short heartbeats: elections after a member stops take well under a second.
			"--heartbeat-interval", "50", "--election-timeout", "500"}
		c.start(m)
	}
	t.Cleanup(func() {
		for _, m := range c.Members {
			m.kill()
		}
	})
	for _, m := range c.Members {
		c.wait(m)
	}
	return c
}

func (c *Cluster) start(m *Member) {
	c.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	cmd := exec.Command(c.bin, m.args...)
	m.log = new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start etcd %s: %v", m.Name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	m.cmd, m.done = cmd, done
}

// wait polls the member's /health until it reports healthy, for at most 20 s.
func (c *Cluster) wait(m *Member) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", m.Client, 200*time.Millisecond)
		if err == nil {
			ok := health(conn)
			conn.Close()
			if ok {
				return
			}
		}
		select {
		case <-m.done:
			c.t.Fatalf("etcd %s exited: %s", m.Name, m.log.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	c.t.Fatalf("etcd %s not healthy after 20 s: %s", m.Name, m.log.String())
}

// health asks /health over conn (HTTP/1.0, no client library needed).
func health(conn net.Conn) bool {
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("GET /health HTTP/1.0\r\n\r\n")); err != nil {
		return false
	}
	var b bytes.Buffer
	_, _ = b.ReadFrom(conn)
	return bytes.Contains(b.Bytes(), []byte(`"health":"true"`))
}

// Stop kills the member (SIGKILL: as a crash) and waits for it to exit.
func (c *Cluster) Stop(m *Member) { m.kill() }

// Restart starts a stopped member again on its data directory and waits until it is
// healthy (which needs a quorum of members up).
func (c *Cluster) Restart(m *Member) {
	c.t.Helper()
	c.start(m)
	c.wait(m)
}

func (m *Member) kill() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
	m.mu.Lock()
	m.cmd = nil
	m.mu.Unlock()
}

// Client returns a client of the cluster (every member's endpoint), closed when the test
// ends; the client's own logging is off.
func (c *Cluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// StopAll kills every member: etcd is unreachable until StartAll.
func (c *Cluster) StopAll() {
	for _, m := range c.Members {
		m.kill()
	}
}

// StartAll starts every member again and waits until each is healthy (they need each
// other's quorum, so they are started together).
func (c *Cluster) StartAll() {
	c.t.Helper()
	for _, m := range c.Members {
		c.start(m)
	}
	for _, m := range c.Members {
		c.wait(m)
	}
}
