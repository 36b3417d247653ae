package authtest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// rrKey identifies an RRset: owner name (lowercase, canonical) and type.
type rrKey struct {
	name  string
	rtype uint16
}

// Zone is a signed zone held in memory. It is immutable once built and safe for
// concurrent use by the server.
type Zone struct {
	// Origin is the zone apex, fully qualified and lowercase.
	Origin string
	// DNSKEY is the zone's single key (flags 257, algorithm 13).
	DNSKEY *dns.DNSKEY
	// DS is the SHA-256 DS of DNSKEY: the trust anchor a validator needs.
	DS *dns.DS
	// Signer is DNSKEY's private key, exported so tests can sign extra (or broken) data.
	Signer crypto.Signer

	rrsets map[rrKey][]dns.RR
	sigs   map[rrKey][]dns.RR
	names  []string // owner names in canonical order (RFC 4034 §6.1)
	soa    *dns.SOA
}

// Sign parses zoneText (master-file format, relative names allowed, $ORIGIN defaults to
// origin), adds a DNSKEY made from a fresh ECDSA P-256 key and an NSEC chain, and signs
// every RRset with an inception of now-1h and an expiration of now+7d. The zone text
// must contain exactly one SOA, at the apex.
func Sign(origin, zoneText string, now time.Time) (*Zone, error) {
	key := &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.CanonicalName(origin), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 3600},
		Flags:     dns.ZONE | dns.SEP,
		Protocol:  3,
		Algorithm: dns.ECDSAP256SHA256,
	}
	priv, err := key.Generate(256)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return SignWith(origin, zoneText, now, key, priv.(*ecdsa.PrivateKey))
}

// SignWith is Sign with a given key, so a test can publish a new version of a zone that
// still validates under the same trust anchor (z2 := SignWith(..., z1.DNSKEY, z1.Signer)).
func SignWith(origin, zoneText string, now time.Time, key *dns.DNSKEY, signer crypto.Signer) (*Zone, error) {
	origin = dns.CanonicalName(origin)
	if dns.CanonicalName(key.Hdr.Name) != origin {
		return nil, fmt.Errorf("key owner %s is not zone %s", key.Hdr.Name, origin)
	}
	records, err := parse(origin, zoneText)
	if err != nil {
		return nil, err
	}
	z := &Zone{
		Origin: origin,
		DNSKEY: key,
		DS:     key.ToDS(dns.SHA256),
		Signer: signer,
		rrsets: make(map[rrKey][]dns.RR),
		sigs:   make(map[rrKey][]dns.RR),
	}
	for _, rr := range append(records, key) {
		if err := z.add(rr); err != nil {
			return nil, err
		}
	}
	if z.soa == nil {
		return nil, fmt.Errorf("zone %s: no SOA at the apex", origin)
	}
	z.buildNSEC()
	return z, z.signAll(now)
}

// parse reads zoneText and checks that every record is in the zone.
func parse(origin, zoneText string) ([]dns.RR, error) {
	zp := dns.NewZoneParser(strings.NewReader(zoneText), origin, "")
	var out []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rr.Header().Name = dns.CanonicalName(rr.Header().Name)
		if !dns.IsSubDomain(origin, rr.Header().Name) {
			return nil, fmt.Errorf("record %q is outside zone %s", rr.String(), origin)
		}
		out = append(out, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("parse zone %s: %w", origin, err)
	}
	return out, nil
}

func (z *Zone) add(rr dns.RR) error {
	h := rr.Header()
	switch rr := rr.(type) {
	case *dns.SOA:
		if h.Name != z.Origin || z.soa != nil {
			return fmt.Errorf("zone %s: SOA %q must be unique and at the apex", z.Origin, h.Name)
		}
		z.soa = rr
	case *dns.NS:
		if h.Name != z.Origin {
			return fmt.Errorf("zone %s: delegation at %s is not supported", z.Origin, h.Name)
		}
	case *dns.RRSIG, *dns.NSEC, *dns.NSEC3:
		return fmt.Errorf("zone %s: %s records are made by the signer, not loaded", z.Origin, dns.TypeToString[h.Rrtype])
	}
	k := rrKey{h.Name, h.Rrtype}
	if _, seen := z.rrsets[k]; !seen {
		if !slices.Contains(z.names, h.Name) {
			z.names = append(z.names, h.Name)
		}
	}
	z.rrsets[k] = append(z.rrsets[k], rr)
	return nil
}

// buildNSEC links every owner name to the next in canonical order, the last back to the
// apex (RFC 4034 §4.1.1), with a type bitmap of the types present plus RRSIG and NSEC.
// TTL is min(SOA TTL, SOA MINIMUM) per RFC 9077.
func (z *Zone) buildNSEC() {
	slices.SortFunc(z.names, compareNames)
	ttl := min(z.soa.Hdr.Ttl, z.soa.Minttl)
	for i, name := range z.names {
		types := []uint16{dns.TypeRRSIG, dns.TypeNSEC}
		for k := range z.rrsets {
			if k.name == name {
				types = append(types, k.rtype)
			}
		}
		slices.Sort(types)
		nsec := &dns.NSEC{
			Hdr:        dns.RR_Header{Name: name, Rrtype: dns.TypeNSEC, Class: dns.ClassINET, Ttl: ttl},
			NextDomain: z.names[(i+1)%len(z.names)],
			TypeBitMap: types,
		}
		z.rrsets[rrKey{name, dns.TypeNSEC}] = []dns.RR{nsec}
	}
}

func (z *Zone) signAll(now time.Time) error {
	for k, rrset := range z.rrsets {
		sig := &dns.RRSIG{
			Hdr:         dns.RR_Header{Name: k.name, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: rrset[0].Header().Ttl},
			TypeCovered: k.rtype,
			Algorithm:   z.DNSKEY.Algorithm,
			OrigTtl:     rrset[0].Header().Ttl,
			Expiration:  uint32(now.Add(7 * 24 * time.Hour).Unix()),
			Inception:   uint32(now.Add(-time.Hour).Unix()),
			KeyTag:      z.DNSKEY.KeyTag(),
			SignerName:  z.Origin,
		}
		if err := sig.Sign(z.Signer, rrset); err != nil {
			return fmt.Errorf("sign %s/%s: %w", k.name, dns.TypeToString[k.rtype], err)
		}
		z.sigs[k] = []dns.RR{sig}
	}
	return nil
}

// RRset returns the records of type rtype at name and their RRSIGs (nil when absent).
// The slices belong to the zone; callers must not modify them.
func (z *Zone) RRset(name string, rtype uint16) (rrs, sigs []dns.RR) {
	k := rrKey{dns.CanonicalName(name), rtype}
	return z.rrsets[k], z.sigs[k]
}

// compareNames orders domain names canonically (RFC 4034 §6.1): label by label from the
// right, each label compared as lowercase octets, a shorter name sorting first. Names are
// compared in wire form so escaped octets (\. or \000) order by their value.
func compareNames(a, b string) int {
	la, lb := wireLabels(a), wireLabels(b)
	for i := 1; i <= min(len(la), len(lb)); i++ {
		if c := bytes.Compare(la[len(la)-i], lb[len(lb)-i]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

// wireLabels returns the lowercase wire-format labels of a fully qualified name.
func wireLabels(name string) [][]byte {
	buf := make([]byte, 256)
	n, err := dns.PackDomainName(dns.CanonicalName(name), buf, 0, nil, false)
	if err != nil {
		// Names reached us through the zone parser, so they are valid.
		panic(fmt.Sprintf("authtest: pack %q: %v", name, err))
	}
	var labels [][]byte
	for off := 0; off < n && buf[off] != 0; off += int(buf[off]) + 1 {
		labels = append(labels, asciiLower(buf[off+1:off+1+int(buf[off])]))
	}
	return labels
}

// asciiLower lowercases A-Z only: canonical form maps nothing else (RFC 4034 §6.2), and
// bytes.ToLower would also fold non-ASCII octets read as UTF-8.
func asciiLower(b []byte) []byte {
	out := slices.Clone(b)
	for i, c := range out {
		if 'A' <= c && c <= 'Z' {
			out[i] = c + 'a' - 'A'
		}
	}
	return out
}
