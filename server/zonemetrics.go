package server

import "github.com/prometheus/client_golang/prometheus"

var (
	zoneLoadedDesc = prometheus.NewDesc("signet_zone_loaded",
		"1 while the zone has data to answer from; 0 while its names get SERVFAIL (its file failed to load, or a secondary has no data).",
		[]string{"zone"}, nil)
	zoneFailuresDesc = prometheus.NewDesc("signet_zone_load_failures_total",
		"Loads and reloads of the zone that failed (the log names the file and line).",
		[]string{"zone"}, nil)
	zoneSerialDesc = prometheus.NewDesc("signet_zone_serial",
		"SOA serial of the zone served.",
		[]string{"zone"}, nil)
)

// Collector returns a Prometheus collector of every zone's load state, read at scrape time.
func (s *ZoneSet) Collector() prometheus.Collector { return zoneCollector{s} }

type zoneCollector struct{ s *ZoneSet }

func (c zoneCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- zoneLoadedDesc
	ch <- zoneFailuresDesc
	ch <- zoneSerialDesc
}

func (c zoneCollector) Collect(ch chan<- prometheus.Metric) {
	for _, z := range c.s.Status() {
		loaded := 0.0
		if z.Loaded {
			loaded = 1
			ch <- prometheus.MustNewConstMetric(zoneSerialDesc, prometheus.GaugeValue, float64(z.Serial), z.Zone)
		}
		ch <- prometheus.MustNewConstMetric(zoneLoadedDesc, prometheus.GaugeValue, loaded, z.Zone)
		ch <- prometheus.MustNewConstMetric(zoneFailuresDesc, prometheus.CounterValue, float64(z.Failures), z.Zone)
	}
}
