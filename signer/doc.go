// Package signer is Signet's online DNSSEC signer. Given a response the zone lookup produced and
// the zone's key ring, it adds RRSIGs (RFC 4035 §3.1), gives denial of existence in one of five
// modes (synthesised per answer: compact RFC 9824, black lies, white lies RFC 4470; or from the
// zone's real chain: NSEC RFC 4034, NSEC3 RFC 5155), serves the DNSKEY, CDS and CDNSKEY RRsets,
// and caches signatures so that a repeated answer costs no signing. SignRRset, ZoneNSEC and
// ZoneNSEC3 give the same records and signatures for a whole signed zone (a zone transfer).
// PreparedNXDomain gives the authority section of a missing name's answer in the chain modes
// as wire pieces packed once per chain link, so that such answers need neither signing nor
// packing.
//
// It signs what it is handed: it never imports the zones package (the server translates a
// lookup result into an Input) nor a keystore backend (keys arrive as crypto.Signer), nor
// keymgr or server. Of Signet it imports only the internal helpers it shares with zones
// (internal/dnsname, internal/outcome).
package signer
