// Command soak runs Signet under mixed load for a set time and fails when it does not hold:
// dnsperf on loopback sends cached names, random (missing) names, TCP queries, queries with
// DNS cookies and malformed messages, while the zone is reloaded every 30 s and ZSK rollovers
// run on a short lifetime. It reports answers, losses, response codes, the p50/p99 latency of
// a paced probe stream, and the server's RSS; it fails if the server exits or restarts, if a
// query of the cached, TCP, cookie or probe streams goes unanswered (they run far below the
// server's capacity, and rate limiting is off on loopback), or if RSS keeps growing. The
// server's caches are configured small (5,000 answers, 20,000 signatures) so that they are
// full within the warm-up: memory that grows after it is a leak, not a cache filling up.
//
//	go run ./bench/soak -signet bin/signet -duration 10m
//
// It imports admin and admin/client (to follow the key rollovers and read the metrics through
// the admin API) and no other Signet package: the server it tests is the built binary.
package main
