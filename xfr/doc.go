// Package xfr moves zones between name servers, both ways.
//
// Inbound, a Secondary keeps a zone current from its primaries (AXFR, RFC 5936; IXFR, RFC 1995;
// NOTIFY, RFC 1996; serial arithmetic, RFC 1982; TSIG, RFC 8945). It is the zone source of a
// transferred zone: it holds the last good copy, writes it atomically to disk after each
// successful transfer (with the time of the last successful refresh, so that a restart with the
// primary down serves the copy until the SOA expire time has passed), and builds zones.Zone
// snapshots from it. A transfer that fails for any reason (network, TSIG, broken or out-of-zone
// data, a serial that goes backwards, an IXFR that does not apply) leaves the copy as it was
// and says why in the log. The records the online signer makes itself are dropped when a
// snapshot is built, as they are from zone files.
//
// Outbound, an Outgoing offers a zone to its secondaries: AXFR, IXFR from the differences
// between its last versions, an ACL by address and TSIG key, NOTIFY on each new version. A
// Publisher makes those versions from the served zone: as loaded, or fully signed (the NSEC or
// NSEC3 chain and every RRset signed, in the background on every core through the signer's
// cache) whenever the zone or its keys change or its signatures age.
//
// A Service answers the NOTIFY and transfer requests for both; it implements the server's
// transfer hook.
//
// xfr imports zones, signer (for the signed versions it offers) and internal/atomicfile; never
// server or keymgr: cmd hands it the zone sources and key rings.
package xfr
