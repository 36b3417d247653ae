// Package dnsname holds the name arithmetic that the zones and signer packages both need and
// cannot share by importing each other: whether a name lies inside a zone, and the canonical
// order of RFC 4034 §6.1. Names are in presentation form; escapes such as "\065" or "\." are
// read as the octets they stand for.
//
// It imports miekg/dns and the standard library, and no Signet package.
package dnsname
