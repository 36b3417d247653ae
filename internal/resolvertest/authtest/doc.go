// Package authtest is a minimal DNSSEC-signed authoritative server for testing the
// resolvertest harness (and anything else that needs a known-good signed zone) without
// Signet. It signs a small zone in memory with one ECDSA P-256 key (algorithm 13, flags
// 257, used as a combined signing key), builds a plain NSEC chain, and answers from that
// static data. It handles positive answers, NODATA and NXDOMAIN; it does not do
// delegations, wildcards, CNAME chasing or empty non-terminals.
//
// It imports resolvertest and miekg/dns, and no other Signet package.
package authtest
