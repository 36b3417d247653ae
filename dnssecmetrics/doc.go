// Package dnssecmetrics exports DNSSEC health as Prometheus metrics: Route 53's DNSSEC
// CloudWatch metrics per zone (signet_dnssec_*), computed at scrape time from what the key
// manager reports (keymgr.Manager.Health), and the signatures each keystore backend made
// (signet_signatures_made_total).
//
// It imports keymgr (for its report type), keystore and the Prometheus client; nothing
// imports it but cmd.
package dnssecmetrics
