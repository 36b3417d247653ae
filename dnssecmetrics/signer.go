package dnssecmetrics

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/signer"
)

// SignLatency is the histogram of online signing time per algorithm. Its Observe method is
// the signer's Config.ObserveSign; the usual algorithms' series are resolved in advance so
// that observing costs no label lookup on the query path.
type SignLatency struct {
	vec    *prometheus.HistogramVec
	byAlgo [256]prometheus.Observer
}

// NewSignLatency creates signet_signing_duration_seconds{algorithm} and registers it with reg.
func NewSignLatency(reg prometheus.Registerer) (*SignLatency, error) {
	l := &SignLatency{vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "signet_signing_duration_seconds",
		Help: "Time to make one RRSIG on the query path (a signature-cache miss), by DNSSEC algorithm.",
		// 10 µs (Ed25519 in software) to 0.65 s (an RSA key in a slow TPM).
		Buckets: prometheus.ExponentialBuckets(10e-6, 4, 9),
	}, []string{"algorithm"})}
	for _, a := range []uint8{8, 13, 14, 15, 16} {
		l.byAlgo[a] = l.vec.WithLabelValues(strconv.Itoa(int(a)))
	}
	if err := reg.Register(l.vec); err != nil {
		return nil, fmt.Errorf("dnssecmetrics: %w", err)
	}
	return l, nil
}

// Observe records one signature; it is signer.Config.ObserveSign.
func (l *SignLatency) Observe(algorithm uint8, took time.Duration) {
	o := l.byAlgo[algorithm]
	if o == nil {
		o = l.vec.WithLabelValues(strconv.Itoa(int(algorithm)))
	}
	o.Observe(took.Seconds())
}

// signerCollector reads the signer's counters at scrape time.
type signerCollector struct {
	s   *signer.Signer
	now func() time.Time

	hits, misses, evictions, entries, made, failures, earliest *prometheus.Desc
}

// RegisterSigner exports the signer's signature cache and signing counters, and the seconds
// until the earliest signature served in the last minutes expires.
func RegisterSigner(reg prometheus.Registerer, s *signer.Signer, now func() time.Time) error {
	c := &signerCollector{s: s, now: now,
		hits:      prometheus.NewDesc("signet_signature_cache_hits_total", "Signature-cache lookups answered from the cache.", nil, nil),
		misses:    prometheus.NewDesc("signet_signature_cache_misses_total", "Signature-cache lookups that had to sign.", nil, nil),
		evictions: prometheus.NewDesc("signet_signature_cache_evictions_total", "Cached signatures pushed out by newer ones (the cache is smaller than the working set when this grows fast).", nil, nil),
		entries:   prometheus.NewDesc("signet_signature_cache_entries", "Signatures held, by cache (main: the zone's data; denial: per-query-name denial records).", []string{"cache"}, nil),
		made:      prometheus.NewDesc("signet_online_signatures_total", "RRSIGs made on the query path, by DNSSEC algorithm.", []string{"algorithm"}, nil),
		failures:  prometheus.NewDesc("signet_online_signing_errors_total", "Answers the signer could not sign (each became SERVFAIL).", nil, nil),
		earliest: prometheus.NewDesc("signet_signature_earliest_expiry_seconds",
			"Seconds until the earliest-expiring signature served in the last one to two minutes expires (absent when none was served). It stays above dnssec.refresh unless something is wrong.", nil, nil),
	}
	if err := reg.Register(c); err != nil {
		return fmt.Errorf("dnssecmetrics: %w", err)
	}
	return nil
}

// Describe implements prometheus.Collector.
func (c *signerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.evictions, c.entries, c.made, c.failures, c.earliest} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *signerCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(st.CacheHits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(st.CacheMisses))
	ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(st.Evictions))
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(st.Failures))
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.CacheLen), "main")
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.DenialCacheLen), "denial")
	for alg, n := range st.Signatures {
		ch <- prometheus.MustNewConstMetric(c.made, prometheus.CounterValue, float64(n), strconv.Itoa(int(alg)))
	}
	now := c.now()
	if exp, ok := c.s.EarliestServedExpiry(now); ok {
		ch <- prometheus.MustNewConstMetric(c.earliest, prometheus.GaugeValue, exp.Sub(now).Seconds())
	}
}

// KeystoreLatency is the histogram of signing time per keystore and algorithm, measured
// around each key's crypto.Signer: a TPM's KSK signatures show here beside the software
// ZSKs'. Its Observe method is keymgr's Config.ObserveSign.
type KeystoreLatency struct {
	vec *prometheus.HistogramVec
}

// NewKeystoreLatency creates signet_keystore_sign_duration_seconds{store,algorithm} and
// registers it with reg.
func NewKeystoreLatency(reg prometheus.Registerer) (*KeystoreLatency, error) {
	l := &KeystoreLatency{vec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "signet_keystore_sign_duration_seconds",
		Help:    "Time the keystore takes to make one signature, by keystore (soft, tpm, ...) and DNSSEC algorithm.",
		Buckets: prometheus.ExponentialBuckets(10e-6, 4, 9),
	}, []string{"store", "algorithm"})}
	if err := reg.Register(l.vec); err != nil {
		return nil, fmt.Errorf("dnssecmetrics: %w", err)
	}
	return l, nil
}

// Observe records one signature; it is keymgr.Config.ObserveSign. The label lookup costs a
// little; it runs once per signature, which costs far more.
func (l *KeystoreLatency) Observe(store string, algorithm uint8, took time.Duration) {
	l.vec.WithLabelValues(store, strconv.Itoa(int(algorithm))).Observe(took.Seconds())
}
