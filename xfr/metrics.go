package xfr

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count zone transfers both ways. A nil *Metrics counts nothing. Zone labels are only
// ever configured zones: a request for any other name is counted under zone "".
type Metrics struct {
	refreshes   *prometheus.CounterVec
	inSerial    *prometheus.GaugeVec
	lastRefresh *prometheus.GaugeVec
	expired     *prometheus.GaugeVec
	out         *prometheus.CounterVec
	outSerial   *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_xfr_in_refreshes_total", Help: "Refreshes of secondary zones, by zone and result (updated, unchanged, failed).",
		}, []string{"zone", "result"}),
		inSerial: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signet_xfr_in_serial", Help: "SOA serial of the copy a secondary zone holds.",
		}, []string{"zone"}),
		lastRefresh: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signet_xfr_in_last_refresh_timestamp_seconds", Help: "Unix time of a secondary zone's last successful refresh (the SOA expire time counts from it).",
		}, []string{"zone"}),
		expired: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signet_xfr_in_expired", Help: "1 while a secondary zone is expired (SERVFAIL), else 0.",
		}, []string{"zone"}),
		out: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "signet_xfr_out_total", Help: "Transfer requests from secondaries, by zone and outcome (axfr, ixfr, uptodate, udp_soa: an IXFR over UDP answered with the SOA so that the client asks over TCP, refused, failed).",
		}, []string{"zone", "outcome"}),
		outSerial: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "signet_xfr_out_serial", Help: "SOA serial of the version offered to secondaries.",
		}, []string{"zone"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.refreshes, m.inSerial, m.lastRefresh, m.expired, m.out, m.outSerial} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Metrics) refreshed(zone, result string, serial uint32, at time.Time) {
	if m == nil {
		return
	}
	if result != "loaded" {
		m.refreshes.WithLabelValues(zone, result).Inc()
	}
	if result != "failed" {
		m.inSerial.WithLabelValues(zone).Set(float64(serial))
		m.lastRefresh.WithLabelValues(zone).Set(float64(at.Unix()))
		m.expired.WithLabelValues(zone).Set(0)
	}
}

func (m *Metrics) setExpired(zone string) {
	if m != nil {
		m.expired.WithLabelValues(zone).Set(1)
	}
}

func (m *Metrics) served(zone, outcome string) {
	if m != nil {
		m.out.WithLabelValues(zone, outcome).Inc()
	}
}

func (m *Metrics) offered(zone string, serial uint32) {
	if m != nil {
		m.outSerial.WithLabelValues(zone).Set(float64(serial))
	}
}
