package server

import (
	"net"
	"net/netip"
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
	// Generation changes whenever a zone is added, replaced or removed. The packet cache keys
	// on it, so that no cached response outlives the zone data it was made from.
	Generation() uint64
}

// KeySource reports which zones are signed, and with what. The key manager implements it; the
// ring it returns must be immutable (a new ring is swapped in, never edited in place), and the
// calls must be cheap and lock-free: they run on every query.
type KeySource interface {
	// Signing returns the zone's current key ring and denial mode; ok is false when the zone
	// is not signed (NOT_SIGNING).
	Signing(zone string) (ring *signer.KeyRing, mode signer.Mode, ok bool)
	// Generation changes whenever a zone's ring, mode or signing state changes (the packet
	// cache keys on it, as on the zones' generation).
	Generation() uint64
}

// ZoneHold is implemented by a KeySource that may withhold a zone it holds keys for: a
// cluster member whose key ring stayed behind the other instances' answers SERVFAIL for the
// zone, so that resolvers ask another name server rather than meet two rings. Held runs on
// every query: it must be cheap and lock-free.
type ZoneHold interface {
	Held(zone string) (why string, held bool)
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
	// IXFRUDP answers an IXFR that came over UDP (RFC 1995 §2), req being raw unpacked. It
	// returns the packed response and true, or false when the zone is not offered for
	// transfer here, which leaves the query to the ordinary pipeline (REFUSED).
	IXFRUDP(raw []byte, req *dns.Msg, from netip.Addr) ([]byte, bool)
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
	prep    Preparer // nil: every answer goes through signer
	hold    ZoneHold // nil: keys withholds no zone
	cfg     Config
	metrics *Metrics
	pcache  *packetCache      // nil: disabled
	qlog    *queryLog         // nil: query logging off
	tsig    map[string]string // TSIG secrets by key name, for signed queries (see tsig.go)
	// signing holds a token per signing in flight: at most Config.MaxSigning, whichever
	// transport the queries came by, so that TCP connections cannot pile up signing work.
	signing chan struct{}
}

// NewHandler returns a Handler. keys and sig may be nil for an unsigned server.
func NewHandler(zs ZoneSource, keys KeySource, sig Signer, cfg Config, m *Metrics) *Handler {
	c := cfg.withDefaults()
	if m == nil {
		m = NewMetrics(nil)
	}
	h := &Handler{zones: zs, keys: keys, signer: sig, cfg: c, metrics: m, pcache: newPacketCache(c.PacketCacheSize),
		qlog: newQueryLog(c.QueryLog, c.Logger), signing: make(chan struct{}, c.MaxSigning)}
	if p, ok := sig.(Preparer); ok && keys != nil {
		h.prep = p
	}
	if hk, ok := keys.(ZoneHold); ok {
		h.hold = hk
	}
	if c.Transfers != nil {
		h.tsig = c.Transfers.TsigSecrets()
	}
	m.observePacketCache(h.pcache)
	m.observeRRL(c.RRL)
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

// request carries one query through the steps of the pipeline.
// The query message itself is not kept here but handed to the steps that read it, so that
// it stays on the stack (a pointer field would make the compiler move it to the heap).
type request struct {
	m     *dns.Msg // the response being built
	opt   *dns.OPT // the request's OPT, once it is known to be well-formed
	ropt  *dns.OPT // the response's OPT: set when opt is
	q     dns.Question
	qname string // q.Name lowercased
	zone  *zones.Zone
	res   zones.Result
	class cacheClass

	client    netip.Addr // the client's address; invalid when unknown (benchmarks, fuzzing)
	cookie    [8]byte    // the query's client cookie, when hasCookie
	hasCookie bool
}

// respond builds the response to an unpacked query and says how large it may be and whether
// the packet cache may keep it. It never returns nil: a query that gets no answer at all (a
// response, say) is filtered before.
//
// The steps, in order: validate the message and its question, route it to a zone, look the
// answer up, sign it; ServePacket and the TCP handler then fit it to the size returned here
// (fitResponse). A step that settles the response (an error rcode, a CHAOS answer) ends the
// sequence.
func (h *Handler) respond(req *dns.Msg, tr transport, client netip.Addr) (*dns.Msg, int, cacheClass) {
	x := request{m: newResponse(req), client: client}
	if h.validate(&x, req) && h.route(&x) {
		h.lookUp(&x)
		h.sign(&x)
	}
	h.addCookie(&x)
	size := dns.MaxMsgSize
	if tr == udp {
		size = payloadSize(x.opt, h.cfg.UDPSize)
	}
	return x.m, size, x.class
}

// newResponse starts the response to req: ID, opcode, RD and CD echoed (RFC 1035 §4.1.1,
// RFC 4035 §3.1.6), and the question exactly as sent, case included (0x20 clients check it).
func newResponse(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.Id = req.Id
	m.Response = true
	m.Opcode = req.Opcode
	m.RecursionDesired = req.RecursionDesired
	m.CheckingDisabled = req.CheckingDisabled
	m.Question = req.Question
	return m
}

// validate checks the message and then its question; false means the response is settled.
func (h *Handler) validate(x *request, req *dns.Msg) bool {
	return h.validateMessage(x, req) && h.validateCookie(x) && h.validateQuestion(x, req)
}

// validateMessage checks the opcode, the section counts and the OPT record, and adds the
// response's OPT when the query has a good one.
func (h *Handler) validateMessage(x *request, req *dns.Msg) bool {
	m := x.m
	if req.Opcode != dns.OpcodeQuery {
		if opt, bad := findOPT(req); !bad && opt != nil && opt.Version() == 0 {
			h.useOPT(x, opt)
		}
		return h.fail(x, dns.RcodeNotImplemented, dns.ExtendedErrorCodeNotSupported, "")
	}
	if len(req.Question) != 1 {
		m.Question = nil
		m.Rcode = dns.RcodeFormatError
		return false
	}
	opt, bad := findOPT(req)
	if bad {
		// RFC 6891 §6.1.1: more than one OPT, or an OPT not at the root, is FORMERR.
		m.Rcode = dns.RcodeFormatError
		return false
	}
	if opt != nil {
		h.useOPT(x, opt)
		if opt.Version() != 0 {
			// RFC 6891 §6.1.3: BADVERS, and no answer.
			m.Rcode = dns.RcodeBadVers
			return false
		}
	}
	if len(req.Answer) != 0 || (len(req.Ns) != 0 && !isIXFR(req)) {
		// A query carries nothing in these sections (NOTIFY and UPDATE are not served), but
		// an IXFR its serial in the authority section (RFC 1995 §3).
		m.Rcode = dns.RcodeFormatError
		return false
	}
	return true
}

// validateQuestion answers the classes and types that no zone lookup serves.
func (h *Handler) validateQuestion(x *request, req *dns.Msg) bool {
	q := req.Question[0]
	switch q.Qclass {
	case dns.ClassINET:
	case dns.ClassCHAOS:
		h.chaos(x.m, q)
		return false
	default:
		return h.fail(x, dns.RcodeRefused, dns.ExtendedErrorCodeNotAuthoritative, "")
	}
	switch q.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		// Transfers, where served, never reach this pipeline (see Transfers).
		return h.fail(x, dns.RcodeRefused, dns.ExtendedErrorCodeNotSupported, "")
	case signer.TypeNXNAME, dns.TypeOPT:
		// RFC 9824 §3.5: NXNAME is a meta-type that cannot be queried; OPT neither (RFC 6891).
		return h.fail(x, dns.RcodeFormatError, dns.ExtendedErrorCodeInvalidQueryType, "")
	case dns.TypeMAILA, dns.TypeMAILB, dns.TypeTKEY, dns.TypeTSIG:
		return h.fail(x, dns.RcodeNotImplemented, dns.ExtendedErrorCodeNotSupported, "")
	}
	x.q, x.qname = q, strings.ToLower(q.Name)
	return true
}

// route picks the zone that answers: the deepest served zone holding the name, except that a
// DS query for a zone's apex goes to its parent when the parent is served here too, since the
// DS RRset lives on the parent side of the cut (RFC 4035 §3.1.4.1); when the parent is not
// served, the child answers (NODATA). A name in no zone is REFUSED.
func (h *Handler) route(x *request) bool {
	z := h.zones.Match(x.qname)
	if z == nil {
		return h.fail(x, dns.RcodeRefused, dns.ExtendedErrorCodeNotAuthoritative, "")
	}
	available, reason := z.Available(), z.Reason()
	if available && h.hold != nil {
		if why, held := h.hold.Held(z.Origin()); held {
			available, reason = false, why
		}
	}
	if !available {
		// A secondary zone not transferred yet, or past its SOA expire time: a secondary
		// stops answering for it (RFC 1035 §3.3.13) and says so with SERVFAIL; a zone
		// whose file failed to load answers the same until a reload fixes it, and so does a
		// zone whose keys withhold it (ZoneHold).
		h.metrics.servfail(causeUnavailable)
		code := dns.ExtendedErrorCodeNotReady
		if z.IsExpired() {
			code = dns.ExtendedErrorCodeNoReachableAuthority
		}
		if reason == "" {
			reason = "zone not available"
		}
		return h.fail(x, dns.RcodeServerFailure, code, reason)
	}
	if x.q.Qtype == dns.TypeDS && z.Origin() == x.qname {
		if off, end := dns.NextLabel(x.qname, 0); !end {
			if p := h.zones.Match(x.qname[off:]); p != nil {
				z = p
			}
		}
	}
	x.zone = z
	return true
}

// lookUp answers from the zone's data and says where the packet cache may keep the answer.
func (h *Handler) lookUp(x *request) {
	x.res = x.zone.Lookup(x.qname, x.q.Qtype)
	fill(x.m, &x.res)
	x.class = existingName
	if x.res.Kind == zones.NXDomain {
		x.class = missingName
	}
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
	switch {
	case r.YXDomain:
		m.Rcode = dns.RcodeYXDomain // a DNAME made the name too long (RFC 6672 §2.2)
	case r.Kind == zones.NXDomain:
		m.Rcode = dns.RcodeNameError
	}
}

// sign has the response of a signed zone signed.
func (h *Handler) sign(x *request) {
	if h.keys == nil || h.signer == nil {
		return
	}
	ring, mode, ok := h.keys.Signing(x.zone.Origin())
	if !ok || ring == nil {
		return
	}
	in := signerInput(x, mode)
	h.signing <- struct{}{}
	err := h.signer.Sign(x.m, &in, ring, h.cfg.Now())
	<-h.signing
	if err != nil {
		h.signFailed(x, err)
		return
	}
	if in.DO && in.CompactOK && mode == signer.Compact {
		// RFC 9824 §5.1: a server that restores NXDOMAIN in compact answers for a query with
		// the Compact-answers-OK flag sets the flag in its response too.
		setCompactOK(x.m)
	}
}

// signerInput describes the lookup's outcome to the signer.
func signerInput(x *request, mode signer.Mode) signer.Input {
	res := &x.res
	return signer.Input{
		Zone:            x.zone.Origin(),
		Mode:            mode,
		Kind:            res.Kind,
		QName:           x.qname,
		QType:           x.q.Qtype,
		Name:            res.Name,
		Types:           res.Types,
		ENT:             res.ENT,
		ClosestEncloser: res.ClosestEncloser,
		Synth:           res.Synth,
		Cut:             res.Cut,
		HasDS:           len(res.DS) > 0,
		SOA:             res.SOA,
		DO:              x.opt != nil && x.opt.Do(),
		CompactOK:       x.opt != nil && x.opt.Co(),
		Names:           x.zone,
	}
}

// signFailed turns the response into a SERVFAIL: never an unsigned answer from a signed zone,
// which validators would reject anyway, and the counter and the log tell the operator why.
func (h *Handler) signFailed(x *request, err error) {
	origin := x.zone.Origin()
	h.metrics.signFailure(origin)
	h.cfg.Logger.Warn("signing failed", "zone", origin, "qname", x.qname, "qtype", dns.TypeToString[x.q.Qtype], "err", err)
	m := x.m
	m.Answer, m.Ns = nil, nil
	m.Extra = keepOPT(m.Extra)
	m.Authoritative = false
	x.class = uncacheable
	h.fail(x, dns.RcodeServerFailure, dns.ExtendedErrorCodeOther, edeTextSigning)
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

// notReady adds an Extended DNS Error to m's OPT, if it has one: the zone is configured but
// has no data to answer from. code is "Not Ready" (RFC 8914 §4.15), or "No Reachable
