package cluster

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Register registers the node's metrics: signet_cluster_leader (1 while this instance is the
// key leader), signet_cluster_etcd_up (etcd answered the last request),
// signet_cluster_etcd_errors_total, signet_cluster_revision_lag{zone} (etcd revisions
// between the key state served and the newest one the watch reported), and
// signet_cluster_zone_stale{zone} (1 while this instance does not answer for the zone).
func (n *Node) Register(reg prometheus.Registerer) error {
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "signet_cluster_leader",
			Help: "1 while this instance is the cluster's key leader, else 0."},
			func() float64 { return b2f(n.Leading()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "signet_cluster_etcd_up",
			Help: "1 when etcd answered this instance's last request, else 0 (no rollover step happens without it)."},
			func() float64 { return b2f(n.EtcdUp()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_cluster_etcd_errors_total",
			Help: "Requests to etcd that failed."},
			func() float64 { return float64(n.EtcdErrors()) }),
		lagCollector{n},
		staleCollector{n},
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

var lagDesc = prometheus.NewDesc("signet_cluster_revision_lag",
	"etcd revisions between the key state this instance serves and the newest one it was told of, per zone (0: up to date).",
	[]string{"zone"}, nil)

// lagCollector reports Node.Lag at scrape time.
type lagCollector struct{ n *Node }

func (l lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (l lagCollector) Collect(ch chan<- prometheus.Metric) {
	for zone, lag := range l.n.Lag() {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(lag), zone)
	}
}

var staleDesc = prometheus.NewDesc("signet_cluster_zone_stale",
	"1 while this instance does not answer for the zone (SERVFAIL, EDE 14) because the ring it serves stayed behind the cluster's for longer than cluster.sync_timeout, else 0.",
	[]string{"zone"}, nil)

// staleCollector reports Node.Stale at scrape time, for every zone.
type staleCollector struct{ n *Node }

func (s staleCollector) Describe(ch chan<- *prometheus.Desc) { ch <- staleDesc }

func (s staleCollector) Collect(ch chan<- prometheus.Metric) {
	stale := s.n.Stale()
	for _, zone := range s.n.cfg.Manager.Zones() {
		v := 0.0
		if stale[zone] != "" {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(staleDesc, prometheus.GaugeValue, v, zone)
	}
}
