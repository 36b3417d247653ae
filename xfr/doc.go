// Package xfr moves zones between name servers: it keeps secondary zones current from their
// primaries (AXFR, RFC 5936; IXFR, RFC 1995; NOTIFY, RFC 1996; serial arithmetic, RFC 1982;
// TSIG, RFC 8945) and answers the NOTIFY messages that primaries send.
//
// A Secondary is the zone source of one transferred zone: it holds the last good copy, writes
// it atomically to disk after each successful transfer (with the time of the last successful
// refresh, so that a restart with the primary down serves the copy until the SOA expire time
// has passed), and builds zones.Zone snapshots from it. A transfer that fails for any reason
// (network, TSIG, broken or out-of-zone data, a serial that goes backwards, an IXFR that does
// not apply) leaves the copy as it was and says why in the log.
//
// The package does no DNSSEC: the records the online signer makes itself are dropped when a
// snapshot is built, as they are from zone files.
//
// xfr imports zones, signer (for the signed versions it offers) and internal/atomicfile; never
// server or keymgr: cmd hands it the zone sources and key rings.
package xfr
