package server

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// The causes of SERVFAIL answers, for signet_servfail_total.
const (
	causeSigning     = iota // a signed zone's answer could not be signed
	causeUnavailable        // the zone has no servable data (a secondary not loaded or expired)
	causePanic              // a bug: handling the query panicked
	causePack               // the answer could not be packed
	numCauses
)

var causeNames = [numCauses]string{"signing", "zone_unavailable", "panic", "pack"}

// trafficMetrics are the per-answer metrics that need the answer's bytes: its size and its
// question type. Every series is resolved in advance (qtypes beyond the table share
// "OTHER"), so observing an answer costs two atomic updates and no allocation, on the
// packet-cache path too.
type trafficMetrics struct {
	size     [2]prometheus.Observer // by transport
	qtype    [256]prometheus.Counter
	other    prometheus.Counter
	servfail [numCauses]prometheus.Counter
}

// qtypesCounted get a series of their own; the rest count as OTHER. 256 and above (CAA,
// AXFR...) are rare on an authoritative server's query path.
func newTrafficMetrics(reg prometheus.Registerer) *trafficMetrics {
	sizes := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "signet_response_size_bytes",
		Help: "Size of the answers sent, by transport.",
		// Around the sizes that matter: 512 (classic UDP), 1232 (the EDNS size advertised),
		// 1500 (Ethernet), and the large signed answers that go over TCP.
		Buckets: []float64{64, 128, 256, 512, 768, 1024, 1232, 1500, 2048, 4096, 16384, 65535},
	}, []string{"transport"})
	qtypes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signet_queries_by_qtype_total", Help: "Queries answered, by question type.",
	}, []string{"qtype"})
	servfail := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "signet_servfail_total",
		Help: "SERVFAIL answers by cause: signing, zone_unavailable, panic, pack.",
	}, []string{"cause"})
	t := &trafficMetrics{other: qtypes.WithLabelValues("OTHER")}
	for tr := range t.size {
		t.size[tr] = sizes.WithLabelValues(transport(tr).String())
	}
	for qt := range t.qtype {
		if name, ok := dns.TypeToString[uint16(qt)]; ok && qt != 0 {
			t.qtype[qt] = qtypes.WithLabelValues(name)
		}
	}
	for c := range t.servfail {
		t.servfail[c] = servfail.WithLabelValues(causeNames[c])
	}
	if reg != nil {
		reg.MustRegister(sizes, qtypes, servfail)
	}
	return t
}

// answered records an answer's size and question type.
func (t *trafficMetrics) answered(tr transport, resp []byte) {
	t.size[tr].Observe(float64(len(resp)))
	qt, ok := questionType(resp)
	switch {
	case !ok:
	case qt < 256 && t.qtype[qt] != nil:
		t.qtype[qt].Inc()
	default:
		t.other.Inc()
	}
}

// questionType reads the QTYPE of the first question of a DNS message without unpacking
// it; ok is false when there is none.
func questionType(msg []byte) (uint16, bool) {
	if len(msg) < headerSize || binary.BigEndian.Uint16(msg[4:]) == 0 {
		return 0, false
	}
	i := skipName(msg, headerSize)
	if i < 0 || i+2 > len(msg) {
		return 0, false
	}
	return binary.BigEndian.Uint16(msg[i:]), true
}

// skipName returns the offset just past the name at off (a compression pointer ends it), or
// -1 when the message ends first.
func skipName(msg []byte, off int) int {
	for off < len(msg) {
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1
		case l&0xC0 == 0xC0:
			return off + 2
		}
		off += l + 1
	}
	return -1
}

// queryLog logs one query in every `every` (log.queries), from the answer sent: client,
// transport, name, type, DO bit, rcode, size, and whether the packet cache answered.
type queryLog struct {
	every uint64
	n     atomic.Uint64
	log   *slog.Logger
}

func newQueryLog(every int, log *slog.Logger) *queryLog {
	if every <= 0 {
		return nil
	}
	return &queryLog{every: uint64(every), log: log}
}

// sample reports whether this query is one to log: a counter, not a random draw, so that
// the rate is exact and the query path needs no random source.
func (q *queryLog) sample() bool { return q != nil && q.n.Add(1)%q.every == 0 }

func (q *queryLog) write(tr transport, client net.Addr, resp []byte, cached bool) {
	m := new(dns.Msg)
	attrs := []slog.Attr{slog.String("transport", tr.String()), slog.Int("size", len(resp)), slog.Bool("cached", cached)}
	if client != nil {
		attrs = append(attrs, slog.String("client", client.String()))
	}
	if err := m.Unpack(resp); err == nil {
		if len(m.Question) > 0 {
			attrs = append(attrs, slog.String("qname", m.Question[0].Name), slog.String("qtype", typeName(m.Question[0].Qtype)))
		}
		attrs = append(attrs, slog.String("rcode", dns.RcodeToString[m.Rcode]), slog.Bool("do", m.IsEdns0() != nil && m.IsEdns0().Do()),
			slog.Bool("tc", m.Truncated), slog.Int("answers", len(m.Answer)))
	} else if len(resp) >= headerSize {
		attrs = append(attrs, slog.String("rcode", dns.RcodeToString[int(resp[3]&0xF)]))
	}
	q.log.LogAttrs(context.Background(), slog.LevelInfo, "query", attrs...)
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// observe accounts for one answer sent to client: its metrics, and the query log when this
// query is sampled.
func (h *Handler) observe(tr transport, client net.Addr, resp []byte, cached bool) {
	h.metrics.traffic.answered(tr, resp)
	if h.qlog.sample() {
		h.qlog.write(tr, client, resp, cached)
	}
}
