package signer

import (
	"errors"
	"fmt"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

// Name arithmetic for white lies (RFC 4470), done on wire-form labels so escapes such as
// "\255" compare as the octets they stand for.

// errNoCover: no NSEC owner can be put strictly between the previous existing name and the
// name to deny (the name is "\000.<previous name>", its immediate successor).
var errNoCover = errors.New("no covering NSEC owner")

func wireName(s string) ([]byte, error) {
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(s), buf[:], 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("pack name %q: %w", s, err)
	}
	return append([]byte(nil), buf[:n]...), nil
}

// nextCloser returns the ancestor of name (or name itself) one label longer than ce, the
// name whose non-existence proves name's (RFC 5155 §1.3 terminology, RFC 4035 §5.4 logic).
func nextCloser(name, ce string) string {
	idx := dns.Split(name)
	skip := len(idx) - dns.CountLabel(ce) - 1
	if skip <= 0 {
		return name
	}
	return name[idx[skip]:]
}

// withFirstLabel returns the presentation form of w with its first label replaced by l.
func withFirstLabel(w []byte, l []byte) (string, bool) {
	rest := w[1+int(w[0]):]
	if len(l) == 0 || len(l) > 63 || 1+len(l)+len(rest) > 255 {
		return "", false
	}
	nw := make([]byte, 0, 1+len(l)+len(rest))
	nw = append(nw, byte(len(l)))
	nw = append(nw, l...)
	nw = append(nw, rest...)
	s, _, err := dns.UnpackDomainName(nw, 0)
	return s, err == nil
}

// siblingBefore returns a name that sorts just before n among n's siblings: n's first label
// with its last octet decremented, padded with \255 octets to the label or name limit (the
// "modified method" of RFC 4471 §3.2.1). It shares with any descendant of n only n's parent,
// so a validator deriving the closest encloser from the NSEC finds n's parent (RFC 4035 §5.4).
// ok is false when the last octet is \000: nothing at n's level sorts just before n then.
func siblingBefore(n string) (string, bool) {
	w, err := wireName(n)
	if err != nil || w[0] == 0 {
		return "", false
	}
	l := append([]byte(nil), w[1:1+int(w[0])]...)
	last := l[len(l)-1]
	if last == 0 {
		return "", false
	}
	last--
	if 'A' <= last && last <= 'Z' { // case-folded, 'A'-'Z' sort as 'a'-'z', after '['
		last = 'A' - 1
	}
	l[len(l)-1] = last
	rest := len(w) - 1 - int(w[0])
	for len(l) < 63 && 1+len(l)+rest < 255 {
		l = append(l, 0xff)
	}
	return withFirstLabel(w, l)
}

// siblingAfter returns a name that sorts after n and all its descendants but before any other
// name: n's first label with a \000 octet appended (RFC 4471 §3.2.2), or, when the label or
// name is at its limit, the label with its last octet incremented. Unlike the immediate
// successor "\000.n" it is not a descendant of n: a next name below n would tell a validator
// that n is an empty non-terminal, and make it take n for the closest encloser.
func siblingAfter(n string) (string, bool) {
	w, err := wireName(n)
	if err != nil || w[0] == 0 {
		return "", false
	}
	l := append([]byte(nil), w[1:1+int(w[0])]...)
	if len(l) < 63 && len(w) < 255 {
		return withFirstLabel(w, append(l, 0))
	}
	for len(l) > 0 && l[len(l)-1] == 0xff {
		l = l[:len(l)-1]
	}
	if len(l) == 0 {
		return "", false
	}
	next := l[len(l)-1] + 1
	if 'A' <= next && next <= 'Z' {
		next = 'Z' + 1
	}
	l[len(l)-1] = next
	return withFirstLabel(w, l)
}

// successor returns "\000.name", the immediate successor of name in canonical order (the next
// name of RFC 9824's NSEC), or a sibling successor when name is too long for another label.
func successor(name string) string {
	if name == "." {
		return `\000.`
	}
	if w, err := wireName(name); err == nil && len(w)+2 <= 255 {
		return `\000.` + name
	}
	if s, ok := siblingAfter(name); ok {
		return s
	}
	return name // unreachable for a valid name: its first label cannot be all \255 and full
}

// cover returns the owner and next name of a minimally covering NSEC (RFC 4470 §3) proving
// that name, below its closest encloser ce, does not exist. The NSEC covers the next closer
// name nc (so name and all of nc's descendants are covered too) and its ends share nothing
// below ce with name, so the validator finds ce as the closest encloser and then looks for the
// wildcard *.ce (RFC 4035 §5.4). The range never includes an existing name: owner lies after
// the previous existing name, next before anything after nc.
func cover(names Neighbours, name, ce string) (owner, next string, err error) {
	if names == nil {
		return "", "", errors.New("white lies need Input.Names")
	}
	nc := nextCloser(name, ce)
	prev, after := names.Neighbours(nc)
	owner, ok := siblingBefore(nc)
	if !ok || dnsname.Compare(owner, prev) <= 0 {
		// Some existing name sorts between the sibling and nc: start just after it instead.
		// "\000.prev" is its immediate successor and not an existing name; but it lies below
		// prev, and below a zone cut or a DNAME owner nothing is ours to deny (RFC 6672 §2.3).
		if h, ok := names.(Hider); ok && h.Hides(prev) {
			return "", "", errNoCover
		}
		owner = successor(prev)
		if dnsname.Compare(owner, nc) >= 0 {
			return "", "", errNoCover
		}
	}
	if next, ok = siblingAfter(nc); !ok {
		next = after
	}
	return owner, next, nil
}
