package dsboot

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// keys is a Keys whose rings the test swaps; each swap moves the generation, as the key
// manager's does.
type keys struct {
	mu    sync.Mutex
	rings map[string]*signer.KeyRing
	gen   atomic.Uint64
}

func newKeys() *keys { return &keys{rings: map[string]*signer.KeyRing{}} }

func (k *keys) Signing(zone string) (*signer.KeyRing, signer.Mode, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	r, ok := k.rings[zone]
	return r, signer.NSEC, ok
}

func (k *keys) Generation() uint64 { return k.gen.Load() }

// set installs ring for zone (nil: the zone is not signed).
func (k *keys) set(zone string, ring *signer.KeyRing) {
	k.mu.Lock()
	if ring == nil {
		delete(k.rings, zone)
	} else {
		k.rings[zone] = ring
	}
	k.mu.Unlock()
	k.gen.Add(1)
}

func genKey(t testing.TB, zone string, ksk bool) *signer.Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	flags := uint16(dns.ZONE)
	if ksk {
		flags |= dns.SEP
	}
	dk, err := signer.NewDNSKEY(zone, flags, dns.ECDSAP256SHA256, priv.Public(), 3600)
	if err != nil {
		t.Fatal(err)
	}
	return signer.NewKey(dk, priv, true)
}

// ring builds zone's ring with one ZSK and the KSKs given (new ones when none).
func ring(t testing.TB, zone string, opt signer.RingOptions, ksks ...*signer.Key) *signer.KeyRing {
	t.Helper()
	if len(ksks) == 0 {
		ksks = []*signer.Key{genKey(t, zone, true)}
	}
	r, err := signer.NewKeyRing(zone, append(ksks, genKey(t, zone, false)), opt, t0, signer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// zone parses a zone from lines after a standard SOA.
func zone(t testing.TB, origin string, lines ...string) *zones.Zone {
	t.Helper()
	text := "$ORIGIN " + origin + "\n$TTL 300\n@ SOA ns hostmaster 1 7200 3600 1209600 300\n" + strings.Join(lines, "\n") + "\n"
	z, err := zones.Parse(strings.NewReader(text), origin, origin+"zone", zones.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// rdata returns the records' text without owner names, sorted.
func rdata(rrs []dns.RR) string {
	var out []string
	for _, rr := range rrs {
		s := rr.String()
		out = append(out, s[len(rr.Header().Name):])
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}
