// Package dnssecmetrics exports DNSSEC health as Prometheus metrics: Route 53's DNSSEC
// CloudWatch metrics per zone (signet_dnssec_*), computed at scrape time from what the key
// manager reports (keymgr.Manager.Health), the signatures each keystore backend made
// (signet_signatures_made_total), and the online signer's work: signature cache hits, misses
// and evictions, signatures per algorithm, signing latency, and the seconds until the
// earliest served signature expires.
//
// It imports keymgr (for its report type), keystore, signer and the Prometheus client; nothing
// imports it but cmd.
package dnssecmetrics
