package dnsname

import "strings"

// InZone reports whether name is zone or below it, case-insensitively, without allocating
// (dns.IsSubDomain splits both names into labels). A dot preceded by an odd run of backslashes
// is escaped (part of a label), so it is not a label boundary.
func InZone(name, zone string) bool {
	if zone == "." {
		return true
	}
	if len(name) < len(zone) {
		return false
	}
	// Names on the query path are lowercased already: the exact comparison settles them
	// without EqualFold's byte-by-byte folding.
	if suffix := name[len(name)-len(zone):]; suffix != zone && !strings.EqualFold(suffix, zone) {
		return false
	}
	if len(name) == len(zone) {
		return true
	}
	i := len(name) - len(zone) - 1
	if name[i] != '.' {
		return false
	}
	bs := 0
	for j := i - 1; j >= 0 && name[j] == '\\'; j-- {
		bs++
	}
	return bs%2 == 0
}
