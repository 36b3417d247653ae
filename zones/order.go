package zones

import (
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// canonicalKey encodes a name so that comparing keys bytewise follows the canonical order of
// RFC 4034 §6.1: labels compared from the right, each as lowercased octets, a label that is a
// prefix of another sorting first. Labels go right to left, each followed by 0x00; the octets
// 0x00 and 0x01 inside a label are escaped as 0x01 0x01 and 0x01 0x02 so that the terminator
// sorts below every octet. Packing to wire form first resolves presentation escapes (\065).
func canonicalKey(name string) string {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.Fqdn(name), buf, 0, nil, false)
	if err != nil {
		return strings.ToLower(name) // not a valid name: any stable order will do
	}
	var labels [][]byte
	for i := 0; i < n && buf[i] != 0; i += int(buf[i]) + 1 {
		labels = append(labels, buf[i+1:i+1+int(buf[i])])
	}
	var b strings.Builder
	for i := len(labels) - 1; i >= 0; i-- {
		for _, c := range labels[i] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			switch c {
			case 0, 1:
				b.WriteByte(1)
				b.WriteByte(c + 1)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte(0)
	}
	return b.String()
}

// order lists the names Neighbours walks: owners of RRsets served as authoritative data (the
// cuts included, what lies below them excluded) and the apex.
func (z *Zone) order(apex string) {
	type named struct{ key, name string }
	var all []named
	for name, n := range z.nodes {
		if (!n.ent && !n.occluded) || name == apex {
			all = append(all, named{canonicalKey(name), name})
		}
	}
	slices.SortFunc(all, func(a, b named) int { return strings.Compare(a.key, b.key) })
	z.names = make([]string, len(all))
	z.keys = make([]string, len(all))
	for i, a := range all {
		z.names[i], z.keys[i] = a.name, a.key
	}
}

// Neighbours returns the existing names just before and just after name in canonical order
// (RFC 4034 §6.1), wrapping around: prev of the apex is the last name, next of the last name is
// the apex. Existing names are those that own RRsets and the apex; empty non-terminals and names
// below a zone cut are not counted, the cut itself is. name itself, if it exists, is neither
// prev nor next (unless it is the only name). White-lies NSEC records (RFC 4470) use it.
func (z *Zone) Neighbours(name string) (prev, next string) {
	if len(z.keys) == 0 {
		return z.origin, z.origin
	}
	k := canonicalKey(name)
	i := sort.SearchStrings(z.keys, k) // first key >= k
	j := i
	if j < len(z.keys) && z.keys[j] == k {
		j++
	}
	prev = z.names[(i-1+len(z.names))%len(z.names)]
	next = z.names[j%len(z.names)]
	return prev, next
}
