package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/admin/client"
)

const origin = "soak.test."

// stream is one dnsperf run: its flags, and whether a lost query fails the soak.
type stream struct {
	name    string
	args    []string
	mustAll bool
	out     string // dnsperf's output, once done
}

func main() {
	bin := flag.String("signet", "bin/signet", "the signet binary")
	duration := flag.Duration("duration", 10*time.Minute, "how long the load runs")
	reload := flag.Duration("reload", 30*time.Second, "zone reload interval")
	zsk := flag.Duration("zsk-lifetime", 2*time.Minute, "ZSK lifetime (rollovers during the run)")
	hosts := flag.Int("hosts", 2000, "host names in the zone")
	flag.Parse()
	if err := run(*bin, *duration, *reload, *zsk, *hosts); err != nil {
		log.Fatalf("soak: FAIL: %v", err)
	}
	fmt.Println("soak: PASS")
}

func run(bin string, duration, reloadEvery, zsk time.Duration, hosts int) error {
	if _, err := exec.LookPath("dnsperf"); err != nil {
		return fmt.Errorf("dnsperf is needed (scripts/install-test-deps.sh installs it): %w", err)
	}
	dir, err := os.MkdirTemp("", "signet-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	zone := filepath.Join(dir, "soak.test.zone")
	serial := 1
	if err := writeZone(zone, hosts, serial); err != nil {
		return err
	}
	state := filepath.Join(dir, "state")
	cfg := fmt.Sprintf(`listen: [%q]
state: %s
admin: {addr: "off"}
zones: [{origin: %s, file: %s}]
packet_cache_size: 5000
dnssec:
  enabled: true
  cache_size: 20000
  zsk_lifetime: %s
  dnskey_ttl: 10
  propagation_delay: 5s
`, addr, state, origin, zone, zsk)
	cfgPath := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	srv, err := startServer(bin, cfgPath, filepath.Join(dir, "server.log"))
	if err != nil {
		return err
	}
	defer srv.stop()
	log.Printf("signet pid %d on %s; load for %s", srv.cmd.Process.Pid, addr, duration)

	files, err := writeQueries(dir, hosts)
	if err != nil {
		return err
	}
	secs := strconv.Itoa(int(duration.Seconds()))
	base := []string{"-s", "127.0.0.1", "-p", strconv.Itoa(port), "-l", secs, "-t", "5"}
	streams := []*stream{
		{name: "cached UDP", args: append(slices.Clone(base), "-d", files["cached"], "-D", "-Q", "3000", "-c", "4"), mustAll: true},
		{name: "random names UDP", args: append(slices.Clone(base), "-d", files["random"], "-D", "-Q", "500")},
		// Each connection stays under the server's tcp.max_queries (1000), past which the server
		// closes it (RFC 7766 §6.2.1) and in-flight queries would be lost to dnsperf.
		{name: "TCP", args: append(slices.Clone(base), "-d", files["cached"], "-m", "tcp", "-D", "-Q", "300", "-c", "4", "-O", "num-queries-per-conn=500"), mustAll: true},
		{name: "cookies UDP", args: append(slices.Clone(base), "-d", files["cached"], "-E", "10:0102030405060708", "-Q", "300"), mustAll: true},
		{name: "malformed UDP", args: append(slices.Clone(base), "-d", files["malformed"], "-B", "-Q", "100")},
		{name: "probe UDP", args: append(slices.Clone(base), "-d", files["probe"], "-D", "-Q", "100", "-v"), mustAll: true},
	}

	rcvbufBefore := udpRcvbufErrors()
	ctx, cancel := context.WithTimeout(context.Background(), duration+time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(func() {
			out, err := exec.CommandContext(ctx, "dnsperf", s.args...).CombinedOutput()
			s.out = string(out)
			if err != nil {
				s.out += "\ndnsperf: " + err.Error()
			}
		})
	}

	// Beside the load: reloads, rollover watching, RSS samples, until the streams end.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	var rss []int64
	zsks := map[string]bool{}
	reloads := 0
	cl := client.NewUnix(filepath.Join(state, admin.SocketFile))
	sample := time.NewTicker(5 * time.Second)
	defer sample.Stop()
	rel := time.NewTicker(reloadEvery)
	defer rel.Stop()
loop:
	for {
		select {
		case <-done:
			break loop
		case <-srv.exited:
			return fmt.Errorf("the server exited during the run (see %s)", srv.logPath)
		case <-sample.C:
			if kb, err := rssKB(srv.cmd.Process.Pid); err == nil {
				rss = append(rss, kb)
			}
			if d, err := cl.GetDNSSEC(ctx, origin); err == nil {
				for _, k := range d.Keys {
					if k.Role == "ZSK" {
						zsks[k.ID] = true
					}
				}
			}
		case <-rel.C:
			serial++
			if err := writeZone(zone, hosts, serial); err != nil {
				return err
			}
			if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				return fmt.Errorf("SIGHUP: %w", err)
			}
			reloads++
		}
	}
	if err := srv.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		return fmt.Errorf("the server is gone at the end: %w", err)
	}
	fmt.Println(serverCounters(cl))
	fmt.Printf("kernel UDP receive-buffer overflows on this machine during the run (all sockets): %d\n", udpRcvbufErrors()-rcvbufBefore)
	return report(streams, rss, reloads, len(zsks))
}

// report prints the figures and decides.
func report(streams []*stream, rss []int64, reloads, zsks int) error {
	var fails []string
	fmt.Println("| stream | sent | answered | lost | response codes |")
	fmt.Println("|---|---|---|---|---|")
	for _, s := range streams {
		st := parseStats(s.out)
		fmt.Printf("| %s | %d | %d | %d | %s |\n", s.name, st.sent, st.completed, st.lost, st.rcodes)
		if st.sent == 0 {
			fails = append(fails, s.name+": dnsperf sent nothing:\n"+s.out)
		}
		if s.mustAll && st.lost > 0 {
			fails = append(fails, fmt.Sprintf("%s: %d queries unanswered", s.name, st.lost))
		}
	}
	p50, p99, n := probeLatency(streams[len(streams)-1].out)
	fmt.Printf("\nprobe latency over %d answers: p50 %.2f ms, p99 %.2f ms\n", n, p50*1e3, p99*1e3)
	if len(rss) < 4 {
		return fmt.Errorf("too few RSS samples (%d)", len(rss))
	}
	// Growth is judged after the first fifth (caches fill there), first fifth of the rest
	// against its last fifth, with room for the caches' noise.
	rest := rss[len(rss)/5:]
	k := max(1, len(rest)/5)
	start, end := maxOf(rest[:k]), minOf(rest[len(rest)-k:])
	fmt.Printf("RSS: %d MiB after warm-up, %d MiB at the end, %d MiB at most (%d samples)\n", start/1024, end/1024, maxOf(rss)/1024, len(rss))
	var series []string
	for i := 0; i < len(rss); i += max(1, len(rss)/12) {
		series = append(series, strconv.FormatInt(rss[i]/1024, 10))
	}
	fmt.Printf("RSS every %d s (MiB): %s\n", 5*max(1, len(rss)/12), strings.Join(series, " "))
	fmt.Printf("zone reloads: %d; ZSKs seen: %d (%d rollovers)\n", reloads, zsks, max(0, zsks-1))
	if end > start*13/10+32*1024 {
		fails = append(fails, fmt.Sprintf("RSS keeps growing: %d MiB -> %d MiB", start/1024, end/1024))
	}
	if len(fails) > 0 {
		return fmt.Errorf("%s", strings.Join(fails, "; "))
	}
	return nil
}

// serverCounters reads, from the server's /metrics through the control socket, the counters
// that say where queries were shed.
func serverCounters(cl *client.Client) string {
	resp, err := cl.HTTP.Get(cl.BaseURL + "/metrics")
	if err != nil {
		return "metrics: " + err.Error()
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		for _, name := range []string{"signet_udp_queue_drops_total ", "signet_packets_dropped_total ", "signet_handler_panics_total ", "signet_signing_failures_total"} {
			if strings.HasPrefix(l, name) {
				out = append(out, l)
			}
		}
	}
	return "server counters: " + strings.Join(out, "; ")
}

// udpRcvbufErrors is the kernel's count of UDP datagrams dropped for a full receive buffer,
// on every socket of the machine.
func udpRcvbufErrors() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}

type stats struct {
	sent, completed, lost int
	rcodes                string
}

var (
	reSent   = regexp.MustCompile(`Queries sent:\s+(\d+)`)
	reDone   = regexp.MustCompile(`Queries completed:\s+(\d+)`)
	reLost   = regexp.MustCompile(`Queries lost:\s+(\d+)`)
	reRcodes = regexp.MustCompile(`Response codes:\s+(.*)`)
	reProbe  = regexp.MustCompile(`(?m)^> \S+ \S+ \S+ ([0-9.]+)$`)
)

func parseStats(out string) stats {
	num := func(re *regexp.Regexp) int {
		if m := re.FindStringSubmatch(out); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return 0
	}
	s := stats{sent: num(reSent), completed: num(reDone), lost: num(reLost)}
	if m := reRcodes.FindStringSubmatch(out); m != nil {
		s.rcodes = strings.TrimSpace(m[1])
	}
	return s
}

func probeLatency(out string) (p50, p99 float64, n int) {
	var l []float64
	for _, m := range reProbe.FindAllStringSubmatch(out, -1) {
		if v, err := strconv.ParseFloat(m[1], 64); err == nil {
			l = append(l, v)
		}
	}
	if len(l) == 0 {
		return 0, 0, 0
	}
	slices.Sort(l)
	return l[len(l)/2], l[len(l)*99/100], len(l)
}

func maxOf(v []int64) int64 { return slices.Max(v) }
func minOf(v []int64) int64 { return slices.Min(v) }

// rssKB reads VmRSS of pid.
func rssKB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

type server struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

func startServer(bin, cfg, logPath string) (*server, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfg, "--log-level", "warn")
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr, cmd.Stdout = pw, lf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pw.Close()
	s := &server{cmd: cmd, exited: make(chan struct{}), logPath: logPath}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			fmt.Fprintln(lf, sc.Text())
			if sc.Text() == "ready" {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() { cmd.Wait(); close(s.exited) }()
	select {
	case <-ready:
		return s, nil
	case <-s.exited:
		return nil, fmt.Errorf("signet exited before ready (see %s)", logPath)
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("signet not ready after 30 s")
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func freePort() (int, error) {
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		pc.Close()
		if err == nil {
			ln.Close()
			return port, nil
		}
	}
	return 0, fmt.Errorf("no free port")
}

// writeZone writes the zone with hosts names at the serial, atomically (a reload never
// reads half a file).
func writeZone(path string, hosts, serial int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 60\n@ SOA ns1 hostmaster %d 7200 3600 1209600 60\n@ NS ns1\nns1 A 192.0.2.1\n", origin, serial)
	for i := range hosts {
		fmt.Fprintf(&b, "h%d A 10.%d.%d.%d\nh%d AAAA 2001:db8::%x\n", i, i>>16&255, i>>8&255, i&255, i, i)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeQueries writes dnsperf's inputs: existing names, unique missing names, a probe mix,
// and malformed messages in dnsperf's binary (length-prefixed) form.
func writeQueries(dir string, hosts int) (map[string]string, error) {
	r := rand.New(rand.NewPCG(1, 2))
	files := map[string]string{}
	write := func(name string, lines []string) error {
		p := filepath.Join(dir, name+".txt")
		files[name] = p
		return os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
	var cached, random, probe []string
	for i := range 1000 {
		t := "A"
		if i%2 == 1 {
			t = "AAAA"
		}
		cached = append(cached, fmt.Sprintf("h%d.%s %s", r.IntN(hosts), origin, t))
	}
	for range 200000 {
		random = append(random, fmt.Sprintf("r%x.%s A", r.Uint64(), origin))
	}
	for i := range 1000 {
		if i%10 == 0 {
			probe = append(probe, fmt.Sprintf("p%x.%s A", r.Uint64(), origin))
		} else {
			probe = append(probe, fmt.Sprintf("h%d.%s A", r.IntN(hosts), origin))
		}
	}
	for name, lines := range map[string][]string{"cached": cached, "random": random, "probe": probe} {
		if err := write(name, lines); err != nil {
			return nil, err
		}
	}
	// Malformed: random bytes, truncated headers, lying counts, a compression loop.
	var mal []byte
	frame := func(m []byte) { mal = append(mal, byte(len(m)>>8), byte(len(m))); mal = append(mal, m...) }
	for i := range 1000 {
		m := make([]byte, 12+r.IntN(60))
		for j := range m {
			m[j] = byte(r.Uint32())
		}
		m[2] &^= 0x80 // a query, so that it is not dropped before the parser
		switch i % 4 {
		case 0:
			m = m[:3+r.IntN(9)] // shorter than a header
		case 1:
			m[4], m[5] = 0, 1 // one question, garbage after
		case 2:
			m = append(m[:12], 0xc0, 0x0c, 0, 1, 0, 1) // a name pointing at itself
			m[4], m[5], m[6], m[7], m[8], m[9], m[10], m[11] = 0, 1, 0, 0, 0, 0, 0, 0
		}
		frame(m)
	}
	p := filepath.Join(dir, "malformed.bin")
	files["malformed"] = p
	return files, os.WriteFile(p, mal, 0o644)
}
