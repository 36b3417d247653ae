package server

import (
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

// ZoneSource finds the zone that holds a name. *zones.Store implements it.
type ZoneSource interface {
	// Match returns the deepest served zone containing the lowercased qname, or nil.
	Match(qname string) *zones.Zone
}

// KeySource reports which zones are signed, and with what. The key manager implements it; the
// ring it returns must be immutable (a new ring is swapped in, never edited in place), and the
// call must be cheap and lock-free: it runs on every query.
type KeySource interface {
	// Signing returns the zone's current key ring and denial mode; ok is false when the zone
	// is not signed (NOT_SIGNING).
	Signing(zone string) (ring *signer.KeyRing, mode signer.Mode, ok bool)
}

// Signer signs a response. *signer.Signer implements it.
type Signer interface {
	Sign(m *dns.Msg, in *signer.Input, ring *signer.KeyRing, now time.Time) error
}

// Transfers serves the messages that are not plain queries: NOTIFY (RFC 1996) and zone
// transfers. The xfr package implements it.
type Transfers interface {
	// NotifyUDP answers a NOTIFY that came over UDP. raw is the message as received (a TSIG
	// covers those bytes); it returns the packed response, or nil for silence.
	NotifyUDP(raw []byte, from net.Addr) []byte
	// ServeTCP answers a NOTIFY, AXFR or IXFR that came over TCP. The server has verified the
	// request's TSIG with TsigSecrets (w.TsigStatus) and signs what is written with WriteMsg
	// when the message carries a TSIG.
	ServeTCP(w dns.ResponseWriter, req *dns.Msg)
	// TsigSecrets returns the base64 TSIG secrets by key name.
	TsigSecrets() map[string]string
}

// Handler turns a query into a response: zone lookup, signing, EDNS and size limits. It is
// safe for concurrent use.
type Handler struct {
	zones   ZoneSource
	keys    KeySource
	signer  Signer
	cfg     Config
	metrics *Metrics
	pcache  *packetCache // nil: disabled
	qlog    *queryLog    // nil: query logging off
}

// NewHandler returns a Handler. keys and sig may be nil for an unsigned server.
func NewHandler(zs ZoneSource, keys KeySource, sig Signer, cfg Config, m *Metrics) *Handler {
	c := cfg.withDefaults()
	if m == nil {
		m = NewMetrics(nil)
	}
	h := &Handler{zones: zs, keys: keys, signer: sig, cfg: c, metrics: m, pcache: newPacketCache(c.PacketCacheSize),
		qlog: newQueryLog(c.QueryLog, c.Logger)}
	m.observePacketCache(h.pcache)
	return h
}

// transport says how a query arrived; it sets the response size limit.
type transport uint8

const (
	udp transport = iota
	tcp
)

func (t transport) String() string {
	if t == tcp {
		return "tcp"
	}
	return "udp"
}

// cacheClass says whether, and where, the packet cache may keep a response.
type cacheClass uint8

const (
	uncacheable cacheClass = iota
	existingName
	missingName
)

// respond builds the response to an unpacked query and says how large it may be. It never
// returns nil: a query that gets no answer at all (a response, say) is filtered before.
func (h *Handler) respond(req *dns.Msg, tr transport) (*dns.Msg, int, cacheClass) {
	class := uncacheable
	m, opt := h.answer(req, &class)
	size := dns.MaxMsgSize
	if tr == udp {
		size = payloadSize(opt, h.cfg.UDPSize)
	}
	return m, size, class
}

// answer does the work of respond; opt is the request's OPT when it was well-formed. It sets
// class when the response comes from zone data and may be cached.
func (h *Handler) answer(req *dns.Msg, class *cacheClass) (m *dns.Msg, opt *dns.OPT) {
	m = new(dns.Msg)
	m.Id = req.Id
	m.Response = true
	m.Opcode = req.Opcode
	m.RecursionDesired = req.RecursionDesired
	m.CheckingDisabled = req.CheckingDisabled
	// The question is echoed exactly as sent, case included (0x20 clients check it).
	m.Question = req.Question

	if req.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return m, opt
	}
	if len(req.Question) != 1 {
		m.Question = nil
		m.Rcode = dns.RcodeFormatError
		return m, opt
	}
	o, bad := findOPT(req)
	if bad {
		// RFC 6891 §6.1.1: more than one OPT, or an OPT not at the root, is FORMERR.
		m.Rcode = dns.RcodeFormatError
		return m, opt
	}
	opt = o
	if opt != nil {
		resp := h.responseOPT(opt)
		m.Extra = append(m.Extra, resp)
		if opt.Version() != 0 {
			// RFC 6891 §6.1.3: BADVERS, and no answer.
			m.Rcode = dns.RcodeBadVers
			return m, opt
		}
	}
	if len(req.Answer) != 0 || len(req.Ns) != 0 {
		// A query carries nothing in these sections (NOTIFY and UPDATE are not served).
		m.Rcode = dns.RcodeFormatError
		return m, opt
	}

	q := req.Question[0]
	switch q.Qclass {
	case dns.ClassINET:
	case dns.ClassCHAOS:
		h.chaos(m, q)
		return m, opt
	default:
		m.Rcode = dns.RcodeRefused
		return m, opt
	}
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		m.Rcode = dns.RcodeRefused
		return m, opt
	case signer.TypeNXNAME, dns.TypeOPT:
		// RFC 9824 §3.3: NXNAME is a meta-type that cannot be queried; OPT neither (RFC 6891).
		m.Rcode = dns.RcodeFormatError
		return m, opt
	case dns.TypeMAILA, dns.TypeMAILB, dns.TypeTKEY, dns.TypeTSIG:
		m.Rcode = dns.RcodeNotImplemented
		return m, opt
	}

	qname := strings.ToLower(q.Name)
	z := h.zones.Match(qname)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return m, opt
	}
	if !z.Available() {
		// A secondary zone not transferred yet, or past its SOA expire time: a secondary
		// stops answering for it (RFC 1035 §3.3.13) and says so with SERVFAIL.
		h.metrics.servfail(causeUnavailable)
		m.Rcode = dns.RcodeServerFailure
		return m, opt
	}
	if q.Qtype == dns.TypeDS && z.Origin() == qname {
		// The DS RRset lives on the parent side of the cut (RFC 4035 §3.1.4.1): when we also
		// serve the parent, it answers; when we do not, the child answers NODATA.
		if off, end := dns.NextLabel(qname, 0); !end {
			if p := h.zones.Match(qname[off:]); p != nil {
				z = p
			}
		}
	}
	res := z.Lookup(qname, q.Qtype)
	fill(m, &res)
	*class = existingName
	if res.Kind == zones.NXDomain {
		*class = missingName
	}

	do := opt != nil && opt.Do()
	if h.keys == nil || h.signer == nil {
		return m, opt
	}
	ring, mode, ok := h.keys.Signing(z.Origin())
	if !ok || ring == nil {
		return m, opt
	}
	in := signer.Input{
		Zone:            z.Origin(),
		Mode:            mode,
		Kind:            signer.Kind(res.Kind),
		QName:           qname,
		QType:           q.Qtype,
		Name:            res.Name,
		Types:           res.Types,
		ENT:             res.ENT,
		ClosestEncloser: res.ClosestEncloser,
		Cut:             res.Cut,
		HasDS:           len(res.DS) > 0,
		SOA:             res.SOA,
		DO:              do,
		CompactOK:       opt != nil && compactOK(opt),
		Names:           z,
	}
	if len(res.Synth) > 0 {
		in.Synth = make([]signer.Synth, len(res.Synth))
		for i, s := range res.Synth {
			in.Synth[i] = signer.Synth{Name: s.Name, Wildcard: s.Wildcard}
		}
	}
	if err := h.signer.Sign(m, &in, ring, h.cfg.Now()); err != nil {
		// Never an unsigned answer from a signed zone: validators would reject it anyway,
		// and SERVFAIL plus a counter tells the operator why (STYLE §5).
		h.metrics.signFailure(z.Origin())
		h.cfg.Logger.Warn("signing failed", "zone", z.Origin(), "qname", qname, "qtype", dns.TypeToString[q.Qtype], "err", err)
		m.Answer, m.Ns = nil, nil
		m.Extra = keepOPT(m.Extra)
		m.Authoritative = false
		m.Rcode = dns.RcodeServerFailure
		*class = uncacheable
	}
	if do && opt != nil && m.Rcode != dns.RcodeServerFailure && mode == signer.Compact && compactOK(opt) {
		setCompactOK(m)
	}
	return m, opt
}

// fill copies a lookup result into the response's sections.
func fill(m *dns.Msg, r *zones.Result) {
	m.Authoritative = r.Kind != zones.Referral
	m.Answer = r.Answer
	m.Ns = r.Ns
	// The OPT, when there is one, goes last; the zone's additional records before it.
	if len(r.Extra) > 0 {
		extra := make([]dns.RR, 0, len(r.Extra)+len(m.Extra))
		extra = append(extra, r.Extra...)
		m.Extra = append(extra, m.Extra...)
	}
	if r.Kind == zones.NXDomain {
		m.Rcode = dns.RcodeNameError
	}
}

// responseOPT is the OPT record of a response to a query that carried opt (RFC 6891 §6.1.1):
// our payload size, DO echoed (RFC 3225 §3), version 0.
func (h *Handler) responseOPT(opt *dns.OPT) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: h.cfg.UDPSize}}
	if opt.Do() {
		o.SetDo()
	}
	return o
}

// findOPT returns the request's OPT record; bad is true when there are several or it is not
// owned by the root.
func findOPT(req *dns.Msg) (opt *dns.OPT, bad bool) {
	for _, rr := range req.Extra {
		o, ok := rr.(*dns.OPT)
		if !ok {
			continue
		}
		if opt != nil || o.Hdr.Name != "." {
			return nil, true
		}
		opt = o
	}
	return opt, false
}

func keepOPT(extra []dns.RR) []dns.RR {
	for _, rr := range extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			return []dns.RR{rr}
		}
	}
	return nil
}

// setCompactOK echoes the Compact-answers-OK flag in the response's OPT (RFC 9824 §3).
func setCompactOK(m *dns.Msg) {
	for _, rr := range m.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			o.Hdr.Ttl |= flagCO
			return
		}
	}
}

// chaos answers the CHAOS-class identity queries when the operator configured them.
func (h *Handler) chaos(m *dns.Msg, q dns.Question) {
	var txt string
	switch strings.ToLower(q.Name) {
	case "version.bind.", "version.server.":
		txt = h.cfg.ChaosVersion
	case "id.server.", "hostname.bind.":
		txt = h.cfg.ChaosID
	}
	if txt == "" || (q.Qtype != dns.TypeTXT && q.Qtype != dns.TypeANY) {
		m.Rcode = dns.RcodeRefused
		return
	}
	m.Authoritative = true
	m.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS, Ttl: 0},
		Txt: []string{txt},
	}}
}
