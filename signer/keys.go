package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/miekg/dns"
)

// Errors that NewDNSKEY returns.
var (
	ErrAlgorithm = errors.New("signer: public key does not match the DNSSEC algorithm")
	ErrKeyType   = errors.New("signer: unsupported public key type")
)

// NewDNSKEY builds the DNSKEY record for pub, owned by zone, with the given flags (256 ZSK,
// 257 KSK), algorithm and TTL. It encodes ECDSA P-256/P-384 keys as X||Y (RFC 6605 §4),
// Ed25519 keys as the 32-byte public key (RFC 8080 §3) and RSA keys as exponent length,
// exponent, modulus (RFC 3110 §2).
func NewDNSKEY(zone string, flags uint16, alg uint8, pub crypto.PublicKey, ttl uint32) (*dns.DNSKEY, error) {
	var raw []byte
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		want := map[uint8]elliptic.Curve{dns.ECDSAP256SHA256: elliptic.P256(), dns.ECDSAP384SHA384: elliptic.P384()}[alg]
		if want == nil || k.Curve != want {
			return nil, fmt.Errorf("%w: ECDSA %s key for algorithm %d", ErrAlgorithm, k.Curve.Params().Name, alg)
		}
		b, err := k.Bytes() // 0x04 || X || Y, each coordinate left-padded to the field size
		if err != nil {
			return nil, fmt.Errorf("encode ECDSA public key: %w", err)
		}
		raw = b[1:]
	case ed25519.PublicKey:
		if alg != dns.ED25519 {
			return nil, fmt.Errorf("%w: Ed25519 key for algorithm %d", ErrAlgorithm, alg)
		}
		raw = k
	case *rsa.PublicKey:
		switch alg {
		case dns.RSASHA256, dns.RSASHA512:
		default:
			return nil, fmt.Errorf("%w: RSA key for algorithm %d", ErrAlgorithm, alg)
		}
		raw = rsaWire(k)
	default:
		return nil, fmt.Errorf("%w: %T", ErrKeyType, pub)
	}
	return &dns.DNSKEY{
		Hdr:       dns.RR_Header{Name: dns.CanonicalName(zone), Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: ttl},
		Flags:     flags,
		Protocol:  3,
		Algorithm: alg,
		PublicKey: base64.StdEncoding.EncodeToString(raw),
	}, nil
}

// rsaWire encodes an RSA public key per RFC 3110 §2: a one-octet exponent length (or a zero
// octet and a two-octet length when the exponent is longer than 255 octets), the exponent,
// then the modulus, both big-endian without leading zeros.
func rsaWire(k *rsa.PublicKey) []byte {
	e := big.NewInt(int64(k.E)).Bytes()
	n := k.N.Bytes()
	out := make([]byte, 0, 3+len(e)+len(n))
	if len(e) < 256 {
		out = append(out, byte(len(e)))
	} else {
		out = append(out, 0, byte(len(e)>>8), byte(len(e)))
	}
	out = append(out, e...)
	return append(out, n...)
}

// DS returns the SHA-256 DS record (digest type 2, RFC 4509) of k, with k's owner and TTL.
func DS(k *dns.DNSKEY) *dns.DS {
	return k.ToDS(dns.SHA256)
}

// NewKey wraps a DNSKEY and its signer (nil for a published-only key) into a Key, computing
// the key tag once. KSK is set from the SEP flag (RFC 4034 §2.1.1).
func NewKey(k *dns.DNSKEY, s crypto.Signer, active bool) *Key {
	return &Key{DNSKEY: k, Signer: s, Tag: k.KeyTag(), KSK: k.Flags&dns.SEP != 0, Active: active}
}
