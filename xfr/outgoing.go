package xfr

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// OutgoingConfig describes one zone offered to secondaries.
type OutgoingConfig struct {
	Origin string
	// Secondaries are the addresses allowed to transfer the zone and sent NOTIFY: "host" or
	// "host:port" (port 53 when omitted). Empty: any address, if Key is set.
	Secondaries []string
	// Key, when set, must sign every transfer request; NOTIFY messages are signed with it.
	Key    *Key
	Logger *slog.Logger
	// History is how many versions back an IXFR can start from (older serials get the whole
	// zone). Default 32.
	History int
	// NotifyTimeout is how long each NOTIFY waits for its answer; it is sent up to
	// NotifyTries times (RFC 1996 §3.6). Defaults 2 s and 5.
	NotifyTimeout time.Duration
	NotifyTries   int
	Metrics       *Metrics // nil: none
}

// Outgoing serves one zone to secondaries by AXFR and IXFR and tells them of each new version
// with NOTIFY. Versions are published whole; Outgoing keeps the differences between the last
// few for IXFR (RFC 1995). Safe for concurrent use.
type Outgoing struct {
	cfg OutgoingConfig
	log *slog.Logger

	pub     sync.Mutex // serialises Publish
	mu      sync.RWMutex
	cur     []dns.RR // SOA first; nil until the first Publish
	history []ixfrDiff
	notify  context.CancelFunc // stops the NOTIFY round of the previous version
}

// ixfrDiff is the difference between two consecutive versions.
type ixfrDiff struct {
	from, to *dns.SOA
	del, add []dns.RR
}

// NewOutgoing checks cfg and returns an Outgoing with nothing to serve yet.
func NewOutgoing(cfg OutgoingConfig) (*Outgoing, error) {
	cfg.Origin = dns.CanonicalName(cfg.Origin)
	if len(cfg.Secondaries) == 0 && cfg.Key == nil {
		return nil, fmt.Errorf("zone %s: transfers need secondaries or a TSIG key (else anyone could take the zone)", cfg.Origin)
	}
	for i, s := range cfg.Secondaries {
		ap, err := secondaryAddr(s)
		if err != nil {
			return nil, fmt.Errorf("zone %s: secondary %q: %w", cfg.Origin, s, err)
		}
		cfg.Secondaries[i] = ap.String()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.History <= 0 {
		cfg.History = 32
	}
	if cfg.NotifyTimeout <= 0 {
		cfg.NotifyTimeout = 2 * time.Second
	}
	if cfg.NotifyTries <= 0 {
		cfg.NotifyTries = 5
	}
	return &Outgoing{cfg: cfg, log: cfg.Logger.With("zone", cfg.Origin)}, nil
}

// secondaryAddr parses "host" or "host:port" (an IP address; port 53 by default).
func secondaryAddr(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("want an IP address or IP:port")
	}
	return netip.AddrPortFrom(a, 53), nil
}

// Origin is the zone's apex.
func (o *Outgoing) Origin() string { return o.cfg.Origin }

// Key is the zone's TSIG key, or nil.
func (o *Outgoing) Key() *Key { return o.cfg.Key }

// Serial returns the serial of the version served, and whether there is one.
func (o *Outgoing) Serial() (uint32, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.cur == nil {
		return 0, false
	}
	return o.cur[0].(*dns.SOA).Serial, true
}

// Publish makes rrs (the whole zone, its SOA first) the version served and sends NOTIFY to the
// secondaries. A version with a new serial keeps the difference from the previous one for
// IXFR; one with the same serial and other records replaces it and drops the history (an IXFR
// from that serial could not be answered truthfully). It reports whether anything changed.
func (o *Outgoing) Publish(rrs []dns.RR) (bool, error) {
	if len(rrs) == 0 || !isSOA(rrs[0]) {
		return false, fmt.Errorf("zone %s: a version must start with its SOA", o.cfg.Origin)
	}
	soa := rrs[0].(*dns.SOA)
	// One Publish at a time; the difference (a large zone's takes a while) is computed
	// without holding mu, so transfers of the current version go on meanwhile.
	o.pub.Lock()
	defer o.pub.Unlock()
	o.mu.RLock()
	cur := o.cur
	o.mu.RUnlock()
	var del, add []dns.RR
	if cur != nil {
		del, add = difference(cur[1:], rrs[1:])
	}
	o.mu.Lock()
	if o.cur != nil {
		old := o.cur[0].(*dns.SOA)
		switch {
		case old.Serial == soa.Serial && len(del) == 0 && len(add) == 0 && old.String() == soa.String():
			o.mu.Unlock()
			return false, nil
		case serialNewer(old.Serial, soa.Serial):
			o.history = append(o.history, ixfrDiff{from: old, to: soa, del: del, add: add})
			if len(o.history) > o.cfg.History {
				o.history = append([]ixfrDiff(nil), o.history[len(o.history)-o.cfg.History:]...)
			}
		default:
			o.log.Warn("zone changed without a newer serial: secondaries that have serial "+fmt.Sprint(old.Serial)+" will not see the change until the next one", "old_serial", old.Serial, "serial", soa.Serial)
			o.history = nil
		}
	}
	o.cur = rrs
	if o.notify != nil {
		o.notify()
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.notify = cancel
	o.mu.Unlock()
	o.log.Info("zone version ready for secondaries", "serial", soa.Serial, "records", len(rrs))
	o.cfg.Metrics.offered(o.cfg.Origin, soa.Serial)
	for _, s := range o.cfg.Secondaries {
		go o.sendNotify(ctx, s, soa)
	}
	return true, nil
}

// Close stops the NOTIFY messages in flight.
func (o *Outgoing) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.notify != nil {
		o.notify()
	}
}

// difference returns the records of old missing from new (deleted) and those of new missing
// from old (added). Records are compared whole, TTL included, owner names in any case. They
// are compared in wire form, which is several times cheaper than text for a large zone.
func difference(old, new []dns.RR) (del, add []dns.RR) {
	var buf []byte
	oldKeys := make([]string, len(old))
	have := make(map[string]struct{}, len(old))
	for i, rr := range old {
		oldKeys[i], buf = wireKey(rr, buf)
		have[oldKeys[i]] = struct{}{}
	}
	next := make(map[string]struct{}, len(new))
	for _, rr := range new {
		var k string
		k, buf = wireKey(rr, buf)
		next[k] = struct{}{}
		if _, ok := have[k]; !ok {
			add = append(add, rr)
		}
	}
	for i, rr := range old {
		if _, ok := next[oldKeys[i]]; !ok {
			del = append(del, rr)
		}
	}
	return del, add
}

// wireKey returns rr in uncompressed wire form with its owner name lowercased, as a map key,
// and buf for reuse. A record that does not pack (it never left the zone parser so) falls
// back to its text.
func wireKey(rr dns.RR, buf []byte) (string, []byte) {
	if need := dns.Len(rr) + 256; cap(buf) < need {
		buf = make([]byte, need)
	}
	buf = buf[:cap(buf)]
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		h := rr.Header()
		t := rr.String()
		return strings.ToLower(h.Name) + t[len(h.Name):], buf
	}
	// The owner is the first name, uncompressed: lowercase its labels' ASCII letters.
	for off := 0; off < n && buf[off] != 0; off += int(buf[off]) + 1 {
		for i := off + 1; i <= off+int(buf[off]) && i < n; i++ {
			if c := buf[i]; 'A' <= c && c <= 'Z' {
				buf[i] = c + 'a' - 'A'
			}
		}
	}
	return string(buf[:n]), buf
}

// sendNotify tells one secondary of serial (RFC 1996 §3.6: retransmitted until it answers).
func (o *Outgoing) sendNotify(ctx context.Context, to string, soa *dns.SOA) {
	m := new(dns.Msg)
	m.SetNotify(o.cfg.Origin)
	m.Answer = []dns.RR{soa}
	c := &dns.Client{Net: "udp", Timeout: o.cfg.NotifyTimeout}
	if k := o.cfg.Key; k != nil {
		c.TsigSecret = secrets(k)
	}
	wait := time.Second
	for try := 1; try <= o.cfg.NotifyTries; try++ {
		if k := o.cfg.Key; k != nil {
			m.SetTsig(k.Name, k.Algorithm, 300, time.Now().Unix())
		}
		r, _, err := c.ExchangeContext(ctx, m, to)
		if ctx.Err() != nil {
			return
		}
		if err == nil && r.Rcode == dns.RcodeSuccess {
			o.log.Debug("NOTIFY acknowledged", "secondary", to, "serial", soa.Serial)
			return
		}
		if err == nil {
			err = fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
			if r.Rcode != dns.RcodeServerFailure {
				o.log.Warn("NOTIFY refused by the secondary", "secondary", to, "serial", soa.Serial, "err", err)
				return
			}
		}
		o.log.Debug("NOTIFY not acknowledged", "secondary", to, "try", try, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
	o.log.Warn("NOTIFY never acknowledged; the secondary will see the change at its next refresh", "secondary", to, "serial", soa.Serial)
}

// allowed applies the zone's transfer ACL: the address must be a configured secondary's (when
// there are any) and the request must carry a valid TSIG with the zone's key (when it has one).
func (o *Outgoing) allowed(from netip.Addr, req *dns.Msg, tsigErr error) (bool, string) {
	if len(o.cfg.Secondaries) > 0 {
		ok := false
		for _, s := range o.cfg.Secondaries {
			if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Unmap() == from.Unmap() {
				ok = true
				break
			}
		}
		if !ok {
			return false, "not a configured secondary"
		}
	}
	if k := o.cfg.Key; k != nil {
		t := req.IsTsig()
		switch {
		case t == nil:
			return false, "no TSIG (key " + k.Name + " required)"
		case dns.CanonicalName(t.Hdr.Name) != k.Name:
			return false, "TSIG with another key (" + t.Hdr.Name + ")"
		case tsigErr != nil:
			return false, "bad TSIG: " + tsigErr.Error()
		}
	}
	return true, ""
}

// maxChunk bounds the RDATA and owner bytes put in one message of a transfer, well under the
// 64 KiB a TCP message can hold even without name compression.
const maxChunk = 16 << 10

// serve answers an AXFR or IXFR that the ACL allowed.
func (o *Outgoing) serve(w dns.ResponseWriter, req *dns.Msg) {
	o.mu.RLock()
	cur, history := o.cur, o.history
	o.mu.RUnlock()
	if cur == nil {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeServerFailure)
		w.WriteMsg(m)
		o.cfg.Metrics.served(o.cfg.Origin, "failed")
		return
	}
	soa := cur[0]
	var seq []dns.RR
	kind := "AXFR"
	if req.Question[0].Qtype == dns.TypeIXFR {
		seq, kind = o.ixfrAnswer(req, cur, history)
	}
	if seq == nil {
		seq = make([]dns.RR, 0, len(cur)+1)
		seq = append(append(seq, cur...), soa)
	}
	ch := make(chan *dns.Envelope)
	tr := new(dns.Transfer)
	done := make(chan error, 1)
	go func() { done <- tr.Out(w, req, ch) }()
	var chunk []dns.RR
	size := 0
	for i, rr := range seq {
		chunk = append(chunk, rr)
		size += dns.Len(rr)
		if size >= maxChunk || i == len(seq)-1 {
			select {
			case ch <- &dns.Envelope{RR: chunk}:
			case err := <-done:
				o.log.Warn("zone transfer out cut short", "to", w.RemoteAddr(), "kind", kind, "err", err)
				o.cfg.Metrics.served(o.cfg.Origin, "failed")
				return
			}
			chunk, size = nil, 0
		}
	}
	close(ch)
	if err := <-done; err != nil {
		o.log.Warn("zone transfer out failed", "to", w.RemoteAddr(), "kind", kind, "err", err)
		o.cfg.Metrics.served(o.cfg.Origin, "failed")
		return
	}
	switch {
	case len(seq) == 1:
		o.cfg.Metrics.served(o.cfg.Origin, "uptodate")
	case kind == "IXFR":
		o.cfg.Metrics.served(o.cfg.Origin, "ixfr")
	default:
		o.cfg.Metrics.served(o.cfg.Origin, "axfr")
	}
	o.log.Info("zone transferred out", "to", w.RemoteAddr(), "kind", kind, "serial", soa.(*dns.SOA).Serial, "records", len(seq))
}

// ixfrAnswer returns the IXFR answer (RFC 1995 §4) for the serial in the request's authority
// section: the lone SOA when it is current, the differences since it when they are kept, else
// nil (the caller sends the whole zone, AXFR-style).
func (o *Outgoing) ixfrAnswer(req *dns.Msg, cur []dns.RR, history []ixfrDiff) ([]dns.RR, string) {
	soa := cur[0].(*dns.SOA)
	var have uint32
	found := false
	for _, rr := range req.Ns {
		if s, ok := rr.(*dns.SOA); ok {
			have, found = s.Serial, true
		}
	}
	if !found {
		return nil, "AXFR-style IXFR (no serial asked)"
	}
	if !serialNewer(have, soa.Serial) {
		return []dns.RR{soa}, "IXFR (up to date)"
	}
	start := -1
	for i, d := range history {
		if d.from.Serial == have {
			start = i
			break
		}
	}
	if start < 0 || history[len(history)-1].to.Serial != soa.Serial {
		return nil, "AXFR-style IXFR (serial " + fmt.Sprint(have) + " not in the history)"
	}
	seq := []dns.RR{soa}
	for _, d := range history[start:] {
		seq = append(seq, d.from)
		seq = append(seq, d.del...)
		seq = append(seq, d.to)
		seq = append(seq, d.add...)
	}
	return append(seq, soa), "IXFR"
}

// serveTransfer answers an AXFR or IXFR for one of the zones offered (REFUSED otherwise).
func (s *Service) serveTransfer(w dns.ResponseWriter, req *dns.Msg) {
	refuse := func(why string, code uint16) {
		s.log.Warn("zone transfer refused", "zone", req.Question[0].Name, "from", w.RemoteAddr(), "reason", why)
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeRefused)
		withEDE(m, req, code)
		if t := req.IsTsig(); t != nil && w.TsigStatus() == nil {
			m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		}
		w.WriteMsg(m)
	}
	origin := strings.ToLower(dns.Fqdn(req.Question[0].Name))
	o := s.outgoing[origin]
	if o == nil || req.Question[0].Qclass != dns.ClassINET {
		refuse("zone not offered for transfer", dns.ExtendedErrorCodeNotSupported)
		s.metrics.served("", "refused")
		return
	}
	var tsigErr error
	if req.IsTsig() != nil {
		tsigErr = w.TsigStatus()
	}
	if ok, why := o.allowed(addrOf(w.RemoteAddr()), req, tsigErr); !ok {
		refuse(why, dns.ExtendedErrorCodeProhibited)
		s.metrics.served(origin, "refused")
		return
	}
	o.serve(w, req)
}

// withEDE adds an Extended DNS Error (RFC 8914) to a refusal when the request had EDNS: 18
// "Prohibited" when the ACL refuses, 21 "Not Supported" for a zone not offered, as over UDP.
// The reason goes to the log only.
func withEDE(m, req *dns.Msg, code uint16) {
	if req.IsEdns0() == nil {
		return
	}
	if m.IsEdns0() == nil {
		m.SetEdns0(dns.MinMsgSize, false)
	}
	opt := m.IsEdns0()
	opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: code})
}
