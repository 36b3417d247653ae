package xfr

// serialCmp compares two SOA serials with the sequence space arithmetic of RFC 1982 §3.2
// (SERIAL_BITS = 32): -1 when a precedes b, 1 when a follows b, 0 when they are equal. Two
// serials exactly 2^31 apart are undefined in RFC 1982; they compare as 0 here only if equal,
// else as "not newer" (1 for a, so that b is never taken as an upgrade), which keeps a secondary
// on the copy it has.
func serialCmp(a, b uint32) int {
	switch {
	case a == b:
		return 0
	case (a < b && b-a < 1<<31) || (a > b && a-b > 1<<31):
		return -1
	default:
		return 1
	}
}

// serialNewer reports whether b is a newer serial than a (RFC 1982 §3.2: a < b).
func serialNewer(a, b uint32) bool { return serialCmp(a, b) < 0 }
