// Package ui is the read-only status page the admin listener serves at /ui/: every zone with
// its load and signing status, each KSK with its status and the information to create its
// DS record at the parent, the ZSKs, the rollover timeline picture, and the metrics that need
// action, in the spirit of Route 53's "DNSSEC signing" tab.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary: no build step and no
// asset from anywhere else. It holds no data itself; the script reads everything from the
// same JSON API the CLI uses (GET /v1/zones, /v1/zones/{zone}/dnssec, .../plan?format=svg,
// /readyz, /metrics) with the admin bearer token, which the operator passes in the URL
// fragment (/ui/#token=...): a fragment is never sent to a server, never logged, and the
// script drops it from the address bar at once. The page only reads.
//
// It imports nothing of Signet's.
package ui
