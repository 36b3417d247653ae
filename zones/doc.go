// Package zones loads master files (RFC 1035 §5) into immutable snapshots and answers
// questions from them with the RFC 1034 §4.3.2 algorithm, including CNAME chains inside the
// zone, referrals with glue, wildcards (RFC 4592) and empty non-terminals.
//
// It knows nothing of DNSSEC keys or signing and imports no other Signet package but the
// internal helpers it shares with the signer (internal/dnsname, internal/outcome). A Store holds
// the served zones; a reload builds a new *Zone and publishes it atomically, so a lookup never
// sees half a zone. Records returned in a Result belong to the snapshot: callers must not modify
// them (copy first), and the slices are capped so that an append copies.
//
// FromRecords builds a snapshot from records that came another way (a zone transfer); Walk,
// Cover, ChainTypes and HashedNames expose the zone in canonical order and its NSEC/NSEC3 chain
// names to the signer without the zones package knowing what a signature is.
package zones
