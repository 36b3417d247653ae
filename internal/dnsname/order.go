package dnsname

import (
	"strings"

	"github.com/miekg/dns"
)

// Key encodes a name so that comparing keys bytewise follows the canonical order of RFC 4034
// §6.1: labels compared from the right, each as lowercased octets, a label that is a prefix of
// another sorting first, and a name before its descendants. Labels go right to left, each
// followed by 0x00; the octets 0x00 and 0x01 inside a label are escaped as 0x01 0x01 and
// 0x01 0x02 so that the terminator sorts below every octet. Packing to wire form first resolves
// presentation escapes (\065). A name that does not pack gets its lowercased text as key: any
// stable order will do for it (zone data never holds one).
func Key(name string) string {
	var buf [512]byte
	return string(AppendKey(buf[:0], name))
}

// AppendKey appends the Key of name to dst and returns the extended slice; with a
// stack buffer as dst, a comparison of two names allocates nothing.
func AppendKey(dst []byte, name string) []byte {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(name), buf[:], 0, nil, false)
	if err != nil {
		return append(dst, strings.ToLower(name)...)
	}
	// The label starts, left to right; the root label (0) ends the name.
	var starts [128]int
	count := 0
	for i := 0; i < n && buf[i] != 0; i += int(buf[i]) + 1 {
		starts[count] = i
		count++
	}
	for k := count - 1; k >= 0; k-- {
		i := starts[k]
		for _, c := range buf[i+1 : i+1+int(buf[i])] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			switch c {
			case 0, 1:
				dst = append(dst, 1, c+1)
			default:
				dst = append(dst, c)
			}
		}
		dst = append(dst, 0)
	}
	return dst
}

// Compare orders two names canonically (RFC 4034 §6.1) and returns -1, 0 or +1.
func Compare(a, b string) int { return strings.Compare(Key(a), Key(b)) }
