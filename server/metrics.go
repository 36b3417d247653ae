package server

import (
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the server's Prometheus metrics. Counters on the query path are resolved once per
// label value and kept, so that counting costs no map lookup or allocation per query.
type Metrics struct {
	queries    *prometheus.CounterVec
	signFail   *prometheus.CounterVec
	truncated  prometheus.Counter
	dropped    prometheus.Counter
	panics     prometheus.Counter
	queueDrops prometheus.Counter
	badCookies prometheus.Counter // registered with the rate limiter, which sends them
	tcpRefused prometheus.Counter
	ede        *prometheus.CounterVec
	edeByCode  map[uint16]prometheus.Counter

	byRcode [2][24]prometheus.Counter
	traffic *trafficMetrics
	reg     prometheus.Registerer
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered, for tests).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_queries_total", Help: "Queries answered, by transport and response code.",
		}, []string{"transport", "rcode"}),
		signFail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_signing_failures_total", Help: "Responses turned into SERVFAIL because signing failed, by zone.",
		}, []string{"zone"}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_responses_truncated_total", Help: "UDP responses sent with TC=1 because they did not fit.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_packets_dropped_total", Help: "Packets dropped unanswered (shorter than a header, or responses).",
		}),
		queueDrops: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_udp_queue_drops_total", Help: "UDP queries dropped because the workers' queue was full (signing could not keep up).",
		}),
		ede: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_extended_errors_total", Help: "Extended DNS Errors (RFC 8914) sent, by info code.",
		}, []string{"code", "name"}),
		badCookies: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_rrl_badcookie_total", Help: "UDP queries over the rate limit with a client cookie, answered BADCOOKIE with a server cookie instead of being dropped.",
		}),
		tcpRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_tcp_refused_total", Help: "TCP connections closed at once because their client already had tcp.max_conns_per_client open.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "signet_handler_panics_total", Help: "Queries whose handling panicked (answered SERVFAIL).",
		}),
	}
	for t := range m.byRcode {
		for rc := range m.byRcode[t] {
			m.byRcode[t][rc] = m.queries.WithLabelValues(transport(t).String(), rcodeName(rc))
		}
	}
	m.edeByCode = newEDECounters(m.ede)
	m.reg = reg
	m.traffic = newTrafficMetrics(reg)
	if reg != nil {
		reg.MustRegister(m.queries, m.signFail, m.truncated, m.dropped, m.panics, m.queueDrops, m.ede, m.tcpRefused)
	}
	return m
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + string(rune('0'+rc/10)) + string(rune('0'+rc%10))
}

func (m *Metrics) count(tr transport, rcode int) {
	if rcode >= 0 && rcode < len(m.byRcode[tr]) {
		m.byRcode[tr][rcode].Inc()
	}
}

func (m *Metrics) signFailure(zone string) {
	m.signFail.WithLabelValues(zone).Inc()
	m.traffic.servfail[causeSigning].Inc()
}

// servfail counts a SERVFAIL answer with its cause (signing failures count through
// signFailure).
func (m *Metrics) servfail(cause int) {
	if cause == causePanic {
		m.panics.Inc()
	}
	m.traffic.servfail[cause].Inc()
}

// observePacketCache exports the packet cache's counters, read at scrape time.
func (m *Metrics) observePacketCache(pc *packetCache) {
	if m.reg == nil || pc == nil {
		return
	}
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "signet_packet_cache_hits_total", Help: "UDP queries answered from the packet cache.",
		}, func() float64 { return float64(pc.hits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "signet_packet_cache_misses_total", Help: "UDP queries that missed the packet cache.",
		}, func() float64 { return float64(pc.misses.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "signet_prepared_denials_total", Help: "UDP answers for missing names (NSEC and NSEC3 modes) assembled from prepared chain pieces, without signing or packing.",
		}, func() float64 { return float64(pc.prepared.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "signet_packet_cache_entries", Help: "Responses held in the packet cache.",
		}, func() float64 { return float64(pc.pos.Len() + pc.neg.Len()) }),
	)
}

// extendedError counts an Extended DNS Error sent.
func (m *Metrics) extendedError(code uint16) {
	if c := m.edeByCode[code]; c != nil {
		c.Inc()
	}
}
