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

	"github.com/miekg/dns"

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

// TestZoneFileWatch edits a zone file the ways operators and tools do while the real binary
// serves it: replaced by rename (an editor's or a deploy's atomic write), broken in place
// (the old zone keeps serving and the log names file and line), then fixed. Each change is
// served without SIGHUP; the log gives the serial of each reload, the metrics count the
// failure, and the sampled query log writes one query in two.
func TestZoneFileWatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := filepath.Join(dir, "watch.test.zone")
	write := func(path, serial, body string) {
		t.Helper()
		head := "$ORIGIN watch.test.\n$TTL 60\n@ SOA ns host " + serial + " 7200 3600 1209600 60\n@ NS ns\nns A 192.0.2.1\n"
		if err := os.WriteFile(path, []byte(head+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(zone, "1", "www A 192.0.2.10\n")
	s := startSignetConfig(t, func(string) string {
		return "reload:\n  debounce: 100ms\nlog:\n  queries: 2\nzones:\n  - origin: watch.test.\n    file: " + zone + "\n"
	})
	answer := func() string {
		r := s.query(t, "www.watch.test.", dns.TypeA, false)
		if len(r.Answer) != 1 {
			t.Fatalf("no answer: %v", r)
		}
		return r.Answer[0].(*dns.A).A.String()
	}
	waitLog := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if strings.Contains(s.log.String(), want) {
				return
			}
		}
		t.Fatalf("the log never said %q", want)
	}
	if got := answer(); got != "192.0.2.10" {
		t.Fatalf("answer %s", got)
	}

	// Atomic replacement: a new file renamed over the old one.
	tmp := filepath.Join(dir, ".watch.test.zone.new")
	write(tmp, "2", "www A 192.0.2.20\n")
	if err := os.Rename(tmp, zone); err != nil {
		t.Fatal(err)
	}
	waitLog(`msg="zone reloaded" zone=watch.test. serial=2`)
	if got := answer(); got != "192.0.2.20" {
		t.Fatalf("after the rename: %s, want 192.0.2.20", got)
	}

	// Broken in place: the old zone stays.
	write(zone, "3", "www A 192.0.2.30\nbad A 999.1.1.1\n")
	waitLog("watch.test.zone:7")
	if got := answer(); got != "192.0.2.20" {
		t.Fatalf("after a broken edit: %s, want the old 192.0.2.20", got)
	}
	fams := scrape(t, s)
	if v := metric(t, fams, "signet_zone_loads_total", "result", "failed"); v != 1 {
		t.Errorf("signet_zone_loads_total{result=failed} = %v, want 1", v)
	}
	if v := metric(t, fams, "signet_zone_load_failing", "zone", "watch.test."); v != 1 {
		t.Errorf("signet_zone_load_failing = %v, want 1", v)
	}

	write(zone, "4", "www A 192.0.2.40\n")
	waitLog(`msg="zone reloaded" zone=watch.test. serial=4`)
	if got := answer(); got != "192.0.2.40" {
		t.Fatalf("after the fix: %s, want 192.0.2.40", got)
	}
	fams = scrape(t, s)
	if v := metric(t, fams, "signet_zone_serial", "zone", "watch.test."); v != 4 {
		t.Errorf("signet_zone_serial = %v, want 4", v)
	}
	if v := metric(t, fams, "signet_zone_load_failing", "zone", "watch.test."); v != 0 {
		t.Errorf("signet_zone_load_failing = %v after the fix, want 0", v)
	}

	// Every query answered so far was for an A record: one in two was logged.
	queries := metric(t, fams, "signet_queries_by_qtype_total", "qtype", "A")
	logged := strings.Count(s.log.String(), "msg=query ")
	if queries < 4 || logged != int(queries)/2 {
		t.Errorf("%v A queries answered, %d logged; want one in two", queries, logged)
	}
	if !strings.Contains(s.log.String(), "qname=www.watch.test. qtype=A") {
		t.Errorf("the query log lacks the name and type")
	}
}
