package dsboot

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics exports the last sync's plan, read at scrape time: one series per signal
// published and one per gap, so that an alert can name the child whose bootstrapping cannot
// complete (a parent needs a validated signal under every name server outside the child).
func (p *Publisher) RegisterMetrics(reg prometheus.Registerer) error {
	return reg.Register(&collector{p: p,
		signals: prometheus.NewDesc("signet_dsboot_signals",
			"RFC 9615 signalling records published: 1 per child zone and name server, labelled with the zone that holds them.",
			[]string{"child", "nameserver", "zone"}, nil),
		gaps: prometheus.NewDesc("signet_dsboot_gaps",
			"Name servers of a child publishing CDS/CDNSKEY under which no RFC 9615 signal can be published here (nameserver empty: the child as a whole), with the reason.",
			[]string{"child", "nameserver", "reason"}, nil),
	})
}

type collector struct {
	p             *Publisher
	signals, gaps *prometheus.Desc
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.signals
	ch <- c.gaps
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.p.mu.Lock()
	signals, gaps := c.p.signals, c.p.gapList
	c.p.mu.Unlock()
	for _, s := range signals {
		ch <- prometheus.MustNewConstMetric(c.signals, prometheus.GaugeValue, 1, s.Child, s.Host, s.Zone)
	}
	for _, g := range gaps {
		ch <- prometheus.MustNewConstMetric(c.gaps, prometheus.GaugeValue, 1, g.Child, g.Host, g.Reason)
	}
}
