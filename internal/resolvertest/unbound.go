package resolvertest

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// startTimeout bounds how long StartUnbound waits for the resolver to answer.
const startTimeout = 10 * time.Second

// queryTimeout bounds one query to unbound. Validation failures can take several retries
// inside unbound before it answers SERVFAIL, so this is generous.
const queryTimeout = 10 * time.Second

// UnboundConfig says what a test resolver should know. The zero value is a validating
// resolver with no trust anchors and no zones, which answers SERVFAIL to everything.
type UnboundConfig struct {
	// Stubs maps a zone ("example.test.") to the authoritative server(s) unbound queries
	// for it, as "127.0.0.1:5300" or unbound's own "127.0.0.1@5300"; several addresses
	// may be separated by commas or spaces. Each becomes a stub-zone (Signet is
	// authoritative, so no forward-zone) plus a transparent local-zone, because unbound
	// otherwise answers RFC 6761 names such as test. and invalid. itself with NXDOMAIN.
	Stubs map[string]string
	// Anchors are trust anchors in zone-file form, DS or DNSKEY records such as the
	// output of `signet ds ZONE --format zone`. They are written to a file loaded with
	// trust-anchor-file: static anchors, with no RFC 5011 state to go stale between tests.
	Anchors []string
	// CacheMaxTTL caps how long unbound caches anything, in seconds (cache-max-ttl);
	// zero keeps unbound's default of one day.
	CacheMaxTTL int
	// Extra is appended verbatim inside the server: clause, one option per line, for
	// settings a test needs beyond these (for example "aggressive-nsec: yes").
	Extra string
}

// Unbound is a running unbound resolver, a child process of the test.
type Unbound struct {
	// Addr is where it listens for UDP and TCP, "127.0.0.1:port".
	Addr string
	// Dir holds its configuration, anchors, log, pid file and control socket.
	Dir string
	// ConfPath is the generated unbound.conf.
	ConfPath string
	// LogPath is unbound's log file; it is printed when the test fails.
	LogPath string

	control string // path of unbound-control
}

// StartUnbound starts `unbound -d -c CONF` on 127.0.0.1 at a free port and returns once it
// answers queries. When the test ends the process is stopped by its PID and, if the test
// failed, its log is written to the test output (val-log-level 2 puts the reason for each
// bogus answer there). An invalid configuration fails the test with unbound-checkconf's
// output.
func StartUnbound(t testing.TB, cfg UnboundConfig) *Unbound {
	t.Helper()
	bin := RequireTool(t, "unbound")
	checkconf := RequireTool(t, "unbound-checkconf")
	control := RequireTool(t, "unbound-control")

	// The control socket path must fit in sun_path (108 bytes), which t.TempDir, named
	// after the test, can exceed; so the directory is made under the plain temp dir.
	dir, err := os.MkdirTemp("", "resolvertest-unbound-")
	if err != nil {
		t.Fatalf("StartUnbound: %v", err)
	}
	u := &Unbound{
		Dir:      dir,
		ConfPath: filepath.Join(dir, "unbound.conf"),
		LogPath:  filepath.Join(dir, "unbound.log"),
		control:  control,
	}
	logShown := false // set when a start failure has already printed the log
	// Cleanups run last-in first-out: this one, registered first, runs after the process
	// is stopped, so the log it prints is complete.
	t.Cleanup(func() {
		// The log exists only if unbound was started (not on a config error).
		if _, err := os.Stat(u.LogPath); err == nil && t.Failed() && !logShown {
			t.Logf("unbound log %s:\n%s", u.LogPath, u.readLog())
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("StartUnbound: remove %s: %v", dir, err)
		}
	})

	anchors := strings.Join(cfg.Anchors, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(dir, "anchors.zone"), []byte(anchors), 0o644); err != nil {
		t.Fatalf("StartUnbound: %v", err)
	}
	// FreePort's port can be taken by another process before unbound binds it, most
	// likely when many tests run in parallel; unbound then exits saying so, and another
	// port is tried.
	for attempt := 1; ; attempt++ {
		port := FreePort(t, "127.0.0.1")
		u.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		conf, err := unboundConf(dir, port, cfg)
		if err != nil {
			t.Fatalf("StartUnbound: %v", err)
		}
		if err := os.WriteFile(u.ConfPath, []byte(conf), 0o644); err != nil {
			t.Fatalf("StartUnbound: %v", err)
		}
		if out, errOut, err := run(checkconf, u.ConfPath); err != nil {
			t.Fatalf("StartUnbound: unbound-checkconf: %v\n%s%s\nconfig:\n%s\nanchors.zone:\n%s", err, out, errOut, conf, anchors)
		}
		logged := len(u.readLog())
		err = u.start(t, bin)
		if err == nil {
			return u
		}
		if attempt < 3 && strings.Contains(strings.ToLower(u.readLog()[logged:]), "address already in use") {
			continue
		}
		logShown = true
		t.Fatalf("StartUnbound: %v; log:\n%s", err, u.readLog())
	}
}

// start runs unbound and waits until it answers. It returns an error if unbound exits
// first or does not answer within startTimeout; the process is stopped at test end.
func (u *Unbound) start(t testing.TB, bin string) error {
	// Messages from before the log file is opened (bad anchors, bind errors) go to
	// stderr, so stderr goes to the same file.
	logf, err := os.OpenFile(u.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, "-d", "-c", u.ConfPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var waitErr error // valid once exited is closed
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() { stop(t, cmd, exited) })

	deadline := time.Now().Add(startTimeout)
	probe := new(dns.Msg)
	// id.server. CH TXT is answered by unbound itself, so it tests only that it is up.
	probe.SetQuestion("id.server.", dns.TypeTXT)
	probe.Question[0].Qclass = dns.ClassCHAOS
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	for {
		select {
		case <-exited:
			return fmt.Errorf("unbound exited before answering (%v)", waitErr)
		default:
		}
		_, _, err := c.Exchange(probe, u.Addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("unbound did not answer on %s within %v: %w", u.Addr, startTimeout, err)
		}
		// Polling a socket has no readiness signal to wait on; the pause keeps the loop
		// from spinning while unbound loads.
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the process by PID: SIGTERM so unbound logs its exit, then SIGKILL if it has
// not gone within five seconds. exited is closed once cmd.Wait has returned.
func stop(t testing.TB, cmd *exec.Cmd, exited <-chan struct{}) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("unbound: SIGTERM pid %d: %v", cmd.Process.Pid, err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill() // nothing more to do if this fails too
		<-exited
	}
}

// readLog returns the log, or "" if there is none yet.
func (u *Unbound) readLog() string {
	b, _ := os.ReadFile(u.LogPath) // a missing log reads as empty
	return string(b)
}

// Log returns what unbound has logged so far, for tests that assert on a bogus reason.
func (u *Unbound) Log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(u.LogPath)
	if err != nil {
		t.Fatalf("unbound log: %v", err)
	}
	return string(b)
}

// Query asks unbound for name and qtype the way a validating stub does: RD=1, AD=1 (so
// unbound reports validation in the AD bit, RFC 6840 §5.7) and EDNS with DO=1 (so the
// answer carries RRSIGs). A truncated UDP answer is retried over TCP. Any transport error
// fails the test; the DNS rcode is for the caller to check.
func (u *Unbound) Query(t testing.TB, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.AuthenticatedData = true
	m.SetEdns0(1232, true)
	return u.Exchange(t, m)
}

// Exchange sends m to unbound over UDP, retrying over TCP when the answer is truncated.
func (u *Unbound) Exchange(t testing.TB, m *dns.Msg) *dns.Msg {
	t.Helper()
	return exchange(t, m, u.Addr)
}

// exchange sends m to addr over UDP and, on TC=1, again over TCP (RFC 7766 §5).
func exchange(t testing.TB, m *dns.Msg, addr string) *dns.Msg {
	t.Helper()
	c := &dns.Client{Timeout: queryTimeout}
	r, _, err := c.Exchange(m, addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.Exchange(m, addr)
	}
	if err != nil {
		t.Fatalf("query %s %s to %s over %s: %v", m.Question[0].Name, dns.TypeToString[m.Question[0].Qtype], addr, cmp.Or(c.Net, "udp"), err)
	}
	return r
}

// Flush empties every cache unbound keeps: RRsets, messages, validated keys, bogus and
// negative entries (flush_zone . covers the first three) and server RTT/lameness data
// (flush_infra all), so a test can change what the server publishes and query afresh.
// It uses unbound-control over a unix socket with control-use-cert: no.
func (u *Unbound) Flush(t testing.TB) {
	t.Helper()
	for _, args := range [][]string{
		{"flush_zone", "."},
		{"flush_bogus"},
		{"flush_negative"},
		{"flush_infra", "all"},
	} {
		out, errOut, err := run(u.control, append([]string{"-c", u.ConfPath}, args...)...)
		if err != nil || !strings.HasPrefix(out, "ok") {
			t.Fatalf("unbound-control %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
	}
}

// unboundConf renders the configuration. Each choice that differs from unbound's
// defaults is there to make a loopback test deterministic and its failures readable.
func unboundConf(dir string, port int, cfg UnboundConfig) (string, error) {
	zones := make([]string, 0, len(cfg.Stubs))
	for z := range cfg.Stubs {
		zones = append(zones, z)
	}
	sort.Strings(zones) // a stable file is easier to read in a failure
	stubs := make(map[string][]string, len(zones))
	ip6 := "no" // unbound would otherwise try AAAA transports no test server listens on
	for _, z := range zones {
		for _, a := range strings.FieldsFunc(cfg.Stubs[z], func(r rune) bool { return r == ',' || r == ' ' }) {
			ua, err := unboundAddr(a)
			if err != nil {
				return "", fmt.Errorf("stub zone %s: %w", z, err)
			}
			if strings.Contains(ua, ":") {
				ip6 = "yes"
			}
			stubs[z] = append(stubs[z], ua)
		}
		if len(stubs[z]) == 0 {
			return "", fmt.Errorf("stub zone %s: no address", z)
		}
	}
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("server:")
	p("  interface: 127.0.0.1")
	p("  port: %d", port)
	p("  do-ip4: yes")
	p("  do-ip6: %s", ip6)
	p("  do-udp: yes")
	p("  do-tcp: yes")
	p("  access-control: 127.0.0.0/8 allow")
	p("  num-threads: 1")
	p(`  username: ""`)
	p(`  chroot: ""`)
	p("  directory: %q", dir)
	p("  pidfile: %q", filepath.Join(dir, "unbound.pid"))
	p("  use-syslog: no")
	p("  logfile: %q", filepath.Join(dir, "unbound.log"))
	p("  log-time-ascii: yes")
	p("  verbosity: 1")
	// Level 2 logs why each answer was bogus, with the query and the server asked.
	p("  val-log-level: 2")
	p(`  module-config: "validator iterator"`)
	p("  val-permissive-mode: no")
	// The server under test listens on loopback, which unbound refuses to query by default.
	p("  do-not-query-localhost: no")
	// Ask the stub the full name at once, and fetch no extra targets, so every query the
	// server sees comes from the test.
	p("  qname-minimisation: no")
	p(`  target-fetch-policy: "0 0 0 0 0"`)
	p("  prefetch: no")
	p("  prefetch-key: no")
	// RFC 8145 key-tag signalling would send _ta-XXXX queries to the server under test.
	p("  trust-anchor-signaling: no")
	p("  serve-expired: no")
	if cfg.CacheMaxTTL > 0 {
		p("  cache-max-ttl: %d", cfg.CacheMaxTTL)
	}
	p("  trust-anchor-file: %q", filepath.Join(dir, "anchors.zone"))
	for _, z := range zones {
		p("  local-zone: %q transparent", dns.Fqdn(z))
	}
	if cfg.Extra != "" {
		for line := range strings.Lines(cfg.Extra) {
			p("  %s", strings.TrimSpace(line))
		}
	}
	for _, z := range zones {
		p("stub-zone:")
		p("  name: %q", dns.Fqdn(z))
		for _, a := range stubs[z] {
			p("  stub-addr: %s", a)
		}
	}
	p("remote-control:")
	p("  control-enable: yes")
	p("  control-interface: %q", filepath.Join(dir, "control.sock"))
	p("  control-use-cert: no")
	return b.String(), nil
}

// unboundAddr converts "host:port" (or "[v6]:port") to unbound's "host@port"; an address
// already in that form, or a bare host (port 53), is returned unchanged.
func unboundAddr(a string) (string, error) {
	if strings.Contains(a, "@") || net.ParseIP(a) != nil {
		return a, nil
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", a, err)
	}
	return host + "@" + port, nil
}
