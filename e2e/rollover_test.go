package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/admin/client"
	"github.com/signetdns/signet/internal/resolvertest"
)

// The real-time rollover test: one Signet serves the parent example.test. (signed, manual
// KSK, its DS is unbound's only trust anchor) and the child signed.example.test., which rolls
// its ZSK every few seconds and its KSK automatically, with every TTL of both zones one or two
// seconds so that caches turn over many times per rollover. A registrar follows the child's
// CDS literally (DS := CDS, then SIGHUP), and unbound with a normal cache is queried all along.
const (
	rollParent = "example.test."
	rollChild  = "signed.example.test."
	// rollDataTTL is the TTL of every record of both zone files (and the SOA MINIMUM, so the
	// negative TTL, is 1); rollDNSKEYTTL is dnssec.dnskey_ttl.
	rollDataTTL   = 2
	rollDNSKEYTTL = 1
	// rollDSTTL is the TTL of the child's DS in the parent file in the safe runs; Signet is
	// told the same (dnssec.parent_ds_ttl).
	rollDSTTL = 2 * time.Second
)

// rollTimings is what a run tells Signet and what the registrar does.
type rollTimings struct {
	zskLifetime string        // zones[].zsk_lifetime of the child
	kskLifetime time.Duration // dnssec.ksk_lifetime
	// parentDSTTL is the TTL the registrar writes on the DS records in the parent file. Signet
	// is always told rollDSTTL; a larger value here is the operator's misconfiguration.
	parentDSTTL time.Duration
	// algorithm is zones[].algorithm of the child ("": the default, 13).
	algorithm string
	// manualKSK sets the child's ksk_rollover to manual (Route 53's procedure) instead of
	// automatic.
	manualKSK bool
}

// config is the Signet configuration of a lab whose child zone file is child, for the server
// at addr.
func (tm rollTimings) config(l *rollLab, child, addr string) string {
	alg := ""
	if tm.algorithm != "" {
		alg = "\n    algorithm: " + tm.algorithm
	}
	kskRollover := "automatic"
	if tm.manualKSK {
		kskRollover = "manual"
	}
	return fmt.Sprintf(`dnssec:
  enabled: true
  dnskey_ttl: %d
  ksk_lifetime: %s
  propagation_delay: 1s
  parent_ds_ttl: %s
  parent_propagation: 1s
  ds_check_interval: 1s
  ds_wait_limit: 1m
zones:
  - origin: %s
    file: %s
  - origin: %s
    file: %s
    parents: ["%s"]
    ksk_rollover: %s
    zsk_lifetime: %s%s
`, rollDNSKEYTTL, tm.kskLifetime, rollDSTTL, rollParent, l.path, rollChild, child, addr, kskRollover, tm.zskLifetime, alg)
}

// rollLab is one Signet with both zones, the registrar's parent file and unbound.
type rollLab struct {
	s       *signet
	u       *resolvertest.Unbound
	start   time.Time
	parent  []dns.RR // the parent zone without the child's DS
	path    string   // the parent zone file
	child   string   // the child zone file
	timings rollTimings
	firstDS []*dns.DS // the child's DS at the start

	// proc is held while Signet is being restarted and while the registrar signals it, so
	// that a SIGHUP never goes to a process being killed or started.
	proc sync.Mutex

	mu        sync.Mutex
	events    []string
	dsChanges int // how many times the registrar has replaced the DS RRset
}

// dsChanged returns how many times the registrar has replaced the DS RRset.
func (l *rollLab) dsChanged() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dsChanges
}

// logf records a timestamped event (seconds since the run started) for the test log.
func (l *rollLab) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf("%6.2fs %s", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...)))
}

func (l *rollLab) eventLog() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.events, "\n")
}

// tinyZone copies testdata/name into dir with every TTL set to ttl and the SOA MINIMUM to 1,
// and returns its records.
func tinyZone(t *testing.T, name string, ttl uint32) []dns.RR {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, "", name)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rr.Header().Ttl = ttl
		if soa, ok := rr.(*dns.SOA); ok {
			soa.Minttl = 1
		}
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	return rrs
}

func writeZone(path string, rrs []dns.RR) error {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String() + "\n")
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path) // a reload never reads a half-written file
}

// setDS writes the parent file with ds as the child's DS RRset (TTL timings.parentDSTTL) and a
// new SOA serial, and sends Signet SIGHUP to reload it: the parent publishing a new DS.
func (l *rollLab) setDS(ds []*dns.DS) error {
	rrs := slices.Clone(l.parent)
	for i, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			c := *soa
			c.Serial = uint32(time.Now().Unix())
			rrs[i] = &c
		}
	}
	for _, d := range ds {
		c := *d
		c.Hdr = dns.RR_Header{Name: rollChild, Rrtype: dns.TypeDS, Class: dns.ClassINET, Ttl: uint32(l.timings.parentDSTTL / time.Second)}
		rrs = append(rrs, &c)
	}
	if err := writeZone(l.path, rrs); err != nil {
		return err
	}
	l.proc.Lock()
	defer l.proc.Unlock()
	return l.s.cmd.Process.Signal(syscall.SIGHUP)
}

// waitDS waits until the parent serves ds as the child's DS RRset (SIGHUP reloads in the
// background).
func (l *rollLab) waitDS(t *testing.T, ds []*dns.DS) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var got []*dns.DS
		for _, rr := range l.s.query(t, rollChild, dns.TypeDS, false).Answer {
			if d, ok := rr.(*dns.DS); ok {
				got = append(got, d)
			}
		}
		if dsSetKey(got) == dsSetKey(ds) {
			return
		}
	}
	t.Fatalf("the parent does not serve the DS %s after SIGHUP", dsTags(ds))
}

// dsSetKey identifies a DS RRset by its records' data.
func dsSetKey(ds []*dns.DS) string {
	var ks []string
	for _, d := range ds {
		ks = append(ks, dsKey(int(d.KeyTag), int(d.Algorithm), int(d.DigestType), d.Digest))
	}
	slices.Sort(ks)
	return strings.Join(ks, ";")
}

// status is GetDNSSEC for the zone through the typed admin client on the server's control
// socket, or an error while the server is down.
func status(s *signet, zone string) (*admin.DNSSEC, error) {
	return client.NewUnix(filepath.Join(s.State, admin.SocketFile)).GetDNSSEC(context.Background(), zone)
}

// startRollLab writes both zones, starts Signet with the child's rollover policy, installs the
// child's first DS in the parent (the operator's one-time upload, as with Route 53) and
// starts unbound trusting only the parent's DS.
func startRollLab(t *testing.T, tm rollTimings) *rollLab {
	t.Helper()
	resolvertest.RequireTool(t, "unbound")
	dir := t.TempDir()
	l := &rollLab{timings: tm, path: filepath.Join(dir, "example.test.zone")}
	for _, rr := range tinyZone(t, "example.test.zone", rollDataTTL) {
		if rr.Header().Rrtype == dns.TypeDS && rr.Header().Name == rollChild {
			continue // the placeholder: the registrar writes the real one
		}
		l.parent = append(l.parent, rr)
	}
	if err := writeZone(l.path, l.parent); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "signed.example.test.zone")
	if err := writeZone(child, tinyZone(t, "signed.example.test.zone", rollDataTTL)); err != nil {
		t.Fatal(err)
	}
	l.child = child
	l.s = startSignetConfig(t, func(addr string) string { return tm.config(l, child, addr) })
	l.start = time.Now()
	first := resolvertest.ParseAnchors(t, l.s.ds(t, rollChild))
	var ds []*dns.DS
	for _, rr := range first {
		ds = append(ds, rr.(*dns.DS))
	}
	if err := l.setDS(ds); err != nil {
		t.Fatal(err)
	}
	l.waitDS(t, ds)
	l.firstDS = ds
	l.logf("parent publishes the first DS %s", dsTags(ds))
	l.u = resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
		Stubs:   map[string]string{rollParent: unboundAt(l.s.Addr), rollChild: unboundAt(l.s.Addr)},
		Anchors: []string{l.s.ds(t, rollParent)},
		// Extended DNS errors (RFC 8914) tell a validation failure (DNSSEC Bogus, DNSKEY
		// Missing, ...) from a server that did not answer.
		Extra: "ede: yes",
	})
	t.Cleanup(func() {
		t.Logf("events:\n%s", l.eventLog())
	})
	return l
}

func dsTags(ds []*dns.DS) string {
	var tags []string
	for _, d := range ds {
		tags = append(tags, fmt.Sprint(d.KeyTag))
	}
	slices.Sort(tags)
	return "{" + strings.Join(tags, " ") + "}"
}

// registrar is a parent that follows the child's CDS RRset literally (RFC 7344 §4.1, RFC
// 8078): every half second it reads the CDS RRset at Signet and, whenever the set of CDS records
// differs from the last one it saw (an empty RRset meaning no change, the delete sentinel not
// expected here), rewrites the parent's DS RRset to exactly the CDS records and sends SIGHUP.
// It runs until ctx ends.
func (l *rollLab) registrar(ctx context.Context, current []*dns.DS) {
	have := dsSetKey(current)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m := new(dns.Msg)
		m.SetQuestion(rollChild, dns.TypeCDS)
		m.SetEdns0(1232, true)
		c := &dns.Client{Timeout: 500 * time.Millisecond}
		r, _, err := c.Exchange(m, l.s.Addr)
		if err != nil || r.Rcode != dns.RcodeSuccess {
			continue // the server is restarting
		}
		var ds []*dns.DS
		for _, rr := range r.Answer {
			if cds, ok := rr.(*dns.CDS); ok && cds.Algorithm != 0 {
				d := cds.DS
				ds = append(ds, &d)
			}
		}
		if len(ds) == 0 || dsSetKey(ds) == have {
			continue
		}
		if err := l.setDS(ds); err != nil {
			l.logf("registrar: %v", err)
			continue
		}
		have = dsSetKey(ds)
		l.mu.Lock()
		l.dsChanges++
		l.mu.Unlock()
		l.logf("registrar: CDS %s seen; parent DS RRset replaced by it (TTL %s), SIGHUP", dsTags(ds), l.timings.parentDSTTL)
	}
}

// failure is one bad answer from unbound.
type failure struct {
	at     time.Duration
	query  string
	what   string
	dnssec bool // a validation failure (AD missing, or SERVFAIL with a DNSSEC EDE)
	log    string
}

func (f failure) String() string {
	return fmt.Sprintf("%6.2fs %s: %s\n%s", f.at.Seconds(), f.query, f.what, f.log)
}

// watcher queries unbound continuously and keeps every failure and the ZSK tags that signed
// the answers.
type watcher struct {
	l        *rollLab
	mu       sync.Mutex
	fails    []failure
	queries  int
	sigTags  map[uint16]bool
	downFrom time.Time // while the server is being restarted: zero when up
	downs    [][2]time.Duration
	// lastLogged is when each query's failure was last written to the event log.
	lastLogged map[string]time.Duration
}

// DNSSEC extended error codes (RFC 8914 §4.7-4.13): validation failures, as opposed to
// 22/23 (No Reachable Authority, Network Error).
var dnssecEDE = map[uint16]bool{1: true, 2: true, 5: true, 6: true, 7: true, 8: true, 9: true, 10: true, 11: true, 12: true}

func (w *watcher) run(ctx context.Context) {
	queries := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer bool
	}{
		{"www." + rollChild, dns.TypeA, dns.RcodeSuccess, true},
		// Compact denial (the default) answers a missing name NOERROR with NSEC (RFC 9824).
		{"nope." + rollChild, dns.TypeA, dns.RcodeSuccess, false},
		{rollChild, dns.TypeDNSKEY, dns.RcodeSuccess, true},
		{"x.wild." + rollChild, dns.TypeA, dns.RcodeSuccess, true},
		{"www." + rollChild, dns.TypeTXT, dns.RcodeSuccess, false},
		{"www." + rollParent, dns.TypeA, dns.RcodeSuccess, true},
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for _, q := range queries {
			m := new(dns.Msg)
			m.SetQuestion(q.name, q.qtype)
			m.RecursionDesired = true
			m.AuthenticatedData = true
			m.SetEdns0(1232, true)
			c := &dns.Client{Timeout: 3 * time.Second}
			r, _, err := c.Exchange(m, w.l.u.Addr)
			if err == nil && r.Truncated {
				c.Net = "tcp"
				r, _, err = c.Exchange(m, w.l.u.Addr)
			}
			label := q.name + " " + dns.TypeToString[q.qtype]
			w.mu.Lock()
			w.queries++
			w.mu.Unlock()
			switch {
			case err != nil:
				w.fail(label, "no answer from unbound: "+err.Error(), false)
			case r.Rcode != q.rcode:
				what, sec := "rcode "+dns.RcodeToString[r.Rcode], false
				if opt := r.IsEdns0(); opt != nil {
					for _, o := range opt.Option {
						if e, ok := o.(*dns.EDNS0_EDE); ok {
							what += fmt.Sprintf(" EDE %d (%s) %q", e.InfoCode, dns.ExtendedErrorCodeToString[e.InfoCode], e.ExtraText)
							sec = sec || dnssecEDE[e.InfoCode]
						}
					}
				}
				w.fail(label, what, sec)
			case !r.AuthenticatedData:
				w.fail(label, "AD not set on "+dns.RcodeToString[r.Rcode], true)
			case q.answer && len(r.Answer) == 0:
				w.fail(label, "empty answer", false)
			default:
				if q.qtype == dns.TypeA && strings.HasPrefix(q.name, "www."+rollChild) {
					tags := sigTags(r)
					w.mu.Lock()
					for tag := range tags {
						w.sigTags[tag] = true
					}
					w.mu.Unlock()
				}
			}
		}
	}
}

func (w *watcher) fail(query, what string, dnssec bool) {
	b, _ := os.ReadFile(w.l.u.LogPath)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var excerpt []string
	for _, line := range lines[max(0, len(lines)-200):] {
		if strings.Contains(line, "validation failure") || strings.Contains(line, "error") {
			excerpt = append(excerpt, "    unbound: "+line)
		}
	}
	excerpt = excerpt[max(0, len(excerpt)-3):]
	f := failure{at: time.Since(w.l.start), query: query, what: what, dnssec: dnssec, log: strings.Join(excerpt, "\n")}
	w.mu.Lock()
	w.fails = append(w.fails, f)
	// The event log gets a query's first failure, then one a second, not a line per query.
	quiet := w.lastLogged[query] != 0 && f.at-w.lastLogged[query] < time.Second
	if !quiet {
		w.lastLogged[query] = f.at
	}
	w.mu.Unlock()
	if !quiet {
		w.l.logf("FAIL %s: %s", query, what)
	}
}

// restart kills Signet with SIGKILL and starts it again on the same state, addresses and
// config, marking the gap so that unanswered queries during it are not counted against it.
func (w *watcher) restart(t *testing.T, why string) {
	t.Helper()
	w.mu.Lock()
	w.downFrom = time.Now()
	w.mu.Unlock()
	w.l.logf("kill -9 (%s)", why)
	w.l.proc.Lock()
	w.l.s.kill()
	w.l.s.start(t)
	w.l.proc.Unlock()
	w.mu.Lock()
	// Unbound may take a moment to query a server it found silent again; two seconds after
	// the server is back, a failure of any kind counts.
	w.downs = append(w.downs, [2]time.Duration{w.downFrom.Sub(w.l.start), time.Since(w.l.start) + 2*time.Second})
	w.downFrom = time.Time{}
	w.mu.Unlock()
	w.l.logf("restarted")
}

// failures returns the failures that count: every validation failure, and any other failure
// outside a restart gap.
func (w *watcher) failures() (bad, excused []failure) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.fails {
		inGap := false
		for _, d := range w.downs {
			inGap = inGap || (f.at >= d[0] && f.at <= d[1])
		}
		if !f.dnssec && inGap {
			excused = append(excused, f)
		} else {
			bad = append(bad, f)
		}
	}
	return bad, excused
}

// keyTracker polls GetDNSSEC for the child and remembers every key it saw and what it did.
type keyTracker struct {
	firstSeen  map[int]time.Duration // tag -> when first seen
	zskSigned  map[int]time.Duration // ZSK tag -> when first seen signing
	kskSigned  map[int]time.Duration
	zskGone    map[int]time.Duration // tag -> when first seen absent after being seen
	kskGone    map[int]time.Duration
	seen       map[int]string // tag -> role
	last       *admin.DNSSEC
	lastStates string
}

func newKeyTracker() *keyTracker {
	return &keyTracker{firstSeen: map[int]time.Duration{}, zskSigned: map[int]time.Duration{}, kskSigned: map[int]time.Duration{},
		zskGone: map[int]time.Duration{}, kskGone: map[int]time.Duration{}, seen: map[int]string{}}
}

// update records d, seen at offset at, and returns a one-line summary when the keys' states
// changed.
func (k *keyTracker) update(d *admin.DNSSEC, at time.Duration) string {
	k.last = d
	present := map[int]bool{}
	var states []string
	for _, key := range d.Keys {
		present[key.KeyTag] = true
		k.seen[key.KeyTag] = key.Role
		if _, ok := k.firstSeen[key.KeyTag]; !ok {
			k.firstSeen[key.KeyTag] = at
		}
		if key.State == "removed" {
			present[key.KeyTag] = false
		}
		signed := k.zskSigned
		if key.Role == "KSK" {
			signed = k.kskSigned
		}
		if _, ok := signed[key.KeyTag]; !ok && key.Signs {
			signed[key.KeyTag] = at
		}
		states = append(states, fmt.Sprintf("%s %d %s", key.Role, key.KeyTag, key.State))
	}
	for tag, role := range k.seen {
		gone := k.zskGone
		if role == "KSK" {
			gone = k.kskGone
		}
		if _, ok := gone[tag]; !ok && !present[tag] {
			gone[tag] = at
		}
	}
	s := strings.Join(states, ", ")
	if d.Rollover.Rolling != "" {
		s += " (rolling " + d.Rollover.Rolling + ")"
	}
	if s == k.lastStates {
		return ""
	}
	k.lastStates = s
	return s
}

// killPoint is a moment of a rollover at which the safe run kills Signet with SIGKILL.
type killPoint struct {
	name string
	at   func(k *keyTracker, d *admin.DNSSEC) bool
}

// newestKey returns the state of the most recently seen key of role (the one a rollover
// introduces) and how many keys of that role the zone has.
func newestKey(d *admin.DNSSEC, role string) (state string, n int) {
	for _, key := range d.Keys {
		if key.Role == role && key.State != "removed" {
			n++
			state = key.State
		}
	}
	return state, n
}

// rollRun drives one run: it starts the registrar and the watcher, polls the child's keys,
// kills Signet at each kill point, and returns once done reports true (or fails the test at
// the deadline).
func rollRun(t *testing.T, l *rollLab, deadline time.Duration, kills []killPoint, done func(k *keyTracker) bool, linger time.Duration) (*watcher, *keyTracker, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	w := &watcher{l: l, sigTags: map[uint16]bool{}, lastLogged: map[string]time.Duration{}}
	wg.Add(2)
	go func() { defer wg.Done(); l.registrar(ctx, l.firstDS) }()
	go func() { defer wg.Done(); w.run(ctx) }()

	k := newKeyTracker()
	end := time.Now().Add(deadline)
	var killed []string
	var doneAt time.Time
	for doneAt.IsZero() || time.Since(doneAt) < linger {
		if time.Now().After(end) {
			t.Fatalf("the rollovers did not complete within %s: ZSKs that signed %v, KSKs that signed %v, KSKs removed %v\nkeys now: %+v\nevents:\n%s",
				deadline, k.zskSigned, k.kskSigned, k.kskGone, k.last.Keys, l.eventLog())
		}
		d, err := status(l.s, rollChild)
		if err != nil {
			t.Fatalf("GetDNSSEC: %v", err)
		}
		if s := k.update(d, time.Since(l.start)); s != "" {
			l.logf("keys: %s", s)
		}
		if len(kills) > 0 && kills[0].at(k, d) {
			w.restart(t, kills[0].name)
			killed = append(killed, kills[0].name)
			kills = kills[1:]
			continue
		}
		if doneAt.IsZero() && done(k) {
			doneAt = time.Now()
			l.logf("rollovers complete; watching %s more", linger)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	return w, k, killed
}

// kskRolls returns how long each completed KSK rollover took, in the order they ran: from the
// new KSK's first sighting (published) to its predecessor's removal.
func (k *keyTracker) kskRolls() []time.Duration {
	var tags []int
	for tag, role := range k.seen {
		if role == "KSK" {
			tags = append(tags, tag)
		}
	}
	slices.SortFunc(tags, func(a, b int) int { return int(k.firstSeen[a] - k.firstSeen[b]) })
	var out []time.Duration
	for i := 1; i < len(tags); i++ {
		if gone, ok := k.kskGone[tags[i-1]]; ok {
			out = append(out, gone-k.firstSeen[tags[i]])
		}
	}
	return out
}

// zskGaps returns the times between consecutive ZSKs' first signatures.
func (k *keyTracker) zskGaps() []time.Duration {
	var at []time.Duration
	for _, d := range k.zskSigned {
		at = append(at, d)
	}
	slices.Sort(at)
	var out []time.Duration
	for i := 1; i < len(at); i++ {
		out = append(out, at[i]-at[i-1])
	}
	return out
}

// TestRolloverRealTime: while Signet rolls the child's KSK automatically three times in a row
// and its ZSK between them, against a registrar that follows CDS literally, unbound trusting
// only the parent's DS, with a normal cache, never answers SERVFAIL and always sets AD,
// including across kill -9 restarts at each step of a ZSK rollover and of the second KSK
// rollover; every KSK rollover ends within a bound and ZSK rotation never stalls. Then a KSK
// rollover with the parent's DS TTL far above what Signet was told: the watcher must record
// validation failures, which shows that it can.
func TestRolloverRealTime(t *testing.T) {
	t.Run("safe", func(t *testing.T) {
		// ZSK rollovers every 8 s (each published 2 s before it signs, Ipub = 1 s + 1 s, and
		// removed 3 s after, Iret = 1 s + 2 s). A KSK rollover falls due 12 s after the last
		// one ended, starts once the ZSK rollover in progress (if any) ends, and takes about
		// 6 s: Ipub, the registrar's poll (0.5 s), a DS check (1 s), then the parent's
		// propagation and DS TTL (1 s + 2 s); a ZSK rollover due meanwhile waits for it.
		const kskRollovers = 3
		const kskBound = 15 * time.Second // the longest a KSK rollover may take, kills included
		const zskLifetime = 8 * time.Second
		l := startRollLab(t, rollTimings{zskLifetime: "8s", kskLifetime: 12 * time.Second, parentDSTTL: rollDSTTL})
		// The second KSK rollover is the one that used to stall (a key that was once the new
		// KSK got its CDS back): it is killed at each of its steps.
		second := func(k *keyTracker, d *admin.DNSSEC, want string, n int) bool {
			st, live := newestKey(d, "KSK")
			return len(k.kskSigned) == 3 && live == n && st == want
		}
		kills := []killPoint{
			{"second ZSK rollover, new ZSK published", func(k *keyTracker, d *admin.DNSSEC) bool {
				st, n := newestKey(d, "ZSK")
				return len(k.zskSigned) == 2 && n == 2 && st == "published"
			}},
			{"second ZSK rollover, new ZSK active, old retired", func(k *keyTracker, d *admin.DNSSEC) bool {
				st, n := newestKey(d, "ZSK")
				return len(k.zskSigned) == 3 && n == 2 && st == "active"
			}},
			{"second KSK rollover, new KSK published", func(k *keyTracker, d *admin.DNSSEC) bool {
				return second(k, d, "published", 2)
			}},
			{"second KSK rollover, new KSK ready, CDS names it", func(k *keyTracker, d *admin.DNSSEC) bool {
				return second(k, d, "ready", 2)
			}},
			{"second KSK rollover, new DS at the parent, swap pending", func(k *keyTracker, d *admin.DNSSEC) bool {
				return second(k, d, "ready", 2) && l.dsChanged() >= 2
			}},
			{"second KSK rollover, swapped: new KSK active, old removed", func(k *keyTracker, d *admin.DNSSEC) bool {
				return second(k, d, "active", 1)
			}},
		}
		w, k, killed := rollRun(t, l, 150*time.Second, kills, func(k *keyTracker) bool {
			return len(k.kskGone) >= kskRollovers && len(k.zskSigned) >= 4
		}, 2*rollDSTTL) // past the longest TTL after the last change, so cached answers are checked too

		bad, excused := w.failures()
		rolls := k.kskRolls()
		t.Logf("%d queries to unbound over %.1fs; KSK rollovers %d, taking %v; ZSKs that signed: %v; KSKs that signed: %v; removed: ZSK %v, KSK %v; registrar DS changes: %d; RRSIG key tags seen by unbound on www A: %v; kill -9 at: %q (gaps %v); excused failures during the restart gaps: %d",
			w.queries, time.Since(l.start).Seconds(), len(rolls), rolls, k.zskSigned, k.kskSigned, k.zskGone, k.kskGone, l.dsChanged(), w.sigTags, killed, w.downs, len(excused))
		for _, f := range excused {
			t.Logf("excused (server restarting): %s", f)
		}
		if len(bad) > 0 {
			var b strings.Builder
			for _, f := range bad {
				b.WriteString(f.String() + "\n")
			}
			t.Errorf("%d failed answers from unbound during the rollovers:\n%s", len(bad), b.String())
		}
		if len(rolls) < kskRollovers {
			t.Errorf("%d KSK rollovers completed, want %d", len(rolls), kskRollovers)
		}
		for i, d := range rolls {
			if d > kskBound {
				t.Errorf("KSK rollover %d took %v, want at most %v", i+1, d, kskBound)
			}
		}
		// A ZSK rollover that falls due during a KSK rollover waits for it, no longer.
		for i, g := range k.zskGaps() {
			if g > zskLifetime+kskBound {
				t.Errorf("%v between the ZSKs %d and %d starting to sign, want at most %v", g, i+1, i+2, zskLifetime+kskBound)
			}
		}
		// Each KSK rollover changes the DS RRset once: CDS never names the old KSK again.
		if n := l.dsChanged(); n != len(rolls) {
			t.Errorf("the registrar changed the DS RRset %d times for %d KSK rollovers", n, len(rolls))
		}
		// unbound validated answers signed by every ZSK: the rollovers reached the resolver.
		if len(w.sigTags) < 4 {
			t.Errorf("unbound's answers for www were signed by %d distinct keys, want >= 4: %v", len(w.sigTags), w.sigTags)
		}
		if len(killed) != len(kills) {
			t.Errorf("killed at %q, want all of the %d kill points", killed, len(kills))
		}
	})

	t.Run("unsafe parent DS TTL", func(t *testing.T) {
		// The parent serves the DS with a 60 s TTL while Signet was told 2 s: Signet removes
		// the old KSK 3 s after the parent changed, while unbound still holds the DS RRset
		// naming only the old KSK (cached at the start, valid 60 s). Validation must fail.
		l := startRollLab(t, rollTimings{zskLifetime: "-1s", kskLifetime: 5 * time.Second, parentDSTTL: 60 * time.Second})
		oldKSK := int(l.firstDS[0].KeyTag)
		w, k, _ := rollRun(t, l, 40*time.Second, nil, func(k *keyTracker) bool {
			_, gone := k.kskGone[oldKSK]
			return len(k.kskSigned) >= 2 && gone
		}, 5*time.Second)
		bad, _ := w.failures()
		var dnssec []failure
		for _, f := range bad {
			if f.dnssec {
				dnssec = append(dnssec, f)
			}
		}
		t.Logf("%d queries; KSKs that signed %v, removed %v; %d failures, %d of them validation failures", w.queries, k.kskSigned, k.kskGone, len(bad), len(dnssec))
		if len(dnssec) == 0 {
			t.Fatalf("the watcher recorded no validation failure although the parent's DS TTL (60 s) exceeds parent_ds_ttl (2 s): the test cannot catch an unsafe rollover")
		}
		t.Logf("first validation failure (expected): %s", dnssec[0])
		if removed := k.kskGone[oldKSK]; dnssec[0].at < removed {
			t.Errorf("a validation failure at %.2fs, before the old KSK was removed at %.2fs: something else is wrong", dnssec[0].at.Seconds(), removed.Seconds())
		}
	})
}
