package xfr

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/secretfile"
)

// Key is a TSIG key (RFC 8945). Secret is the base64 secret as miekg/dns wants it; it never
// appears in logs or errors.
type Key struct {
	Name      string // canonical FQDN, e.g. "xfr-key."
	Algorithm string // miekg/dns name, e.g. dns.HmacSHA256 ("hmac-sha256.")
	Secret    string
}

// algorithms maps the configuration names (BIND's and Knot's spelling) to miekg/dns's.
var algorithms = map[string]string{
	"hmac-md5":    dns.HmacMD5,
	"hmac-sha1":   dns.HmacSHA1,
	"hmac-sha224": dns.HmacSHA224,
	"hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384,
	"hmac-sha512": dns.HmacSHA512,
}

// LoadKey reads a TSIG key's base64 secret from secretFile. The file must not be readable or
// writable by group or others (0600), since whoever holds the secret can rewrite the zones
// this server transfers.
func LoadKey(name, algorithm, secretFile string) (Key, error) {
	if _, ok := dns.IsDomainName(name); !ok || name == "" {
		return Key{}, fmt.Errorf("bad key name %q", name)
	}
	alg, ok := algorithms[strings.TrimSuffix(strings.ToLower(algorithm), ".")]
	if !ok {
		return Key{}, fmt.Errorf("key %s: unknown algorithm %q (want hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224, hmac-sha1 or hmac-md5)", name, algorithm)
	}
	secret, err := secretfile.Read(secretFile)
	if err != nil {
		return Key{}, fmt.Errorf("key %s: %w", name, err)
	}
	b, err := base64.StdEncoding.DecodeString(secret)
	if err != nil || len(b) == 0 {
		// The decoder's error quotes an offset, not the secret; still say nothing of the content.
		return Key{}, fmt.Errorf("key %s: secret file %s does not hold a base64 secret", name, secretFile)
	}
	return Key{Name: dns.CanonicalName(name), Algorithm: alg, Secret: secret}, nil
}

// secrets returns the map miekg/dns's Transfer and Server take: key name to secret.
func secrets(keys ...*Key) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		if k != nil {
			m[k.Name] = k.Secret
		}
	}
	return m
}
