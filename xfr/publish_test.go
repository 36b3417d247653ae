package xfr

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

type fixedKeys struct {
	ring *signer.KeyRing
	mode signer.Mode
}

func (f *fixedKeys) Signing(string) (*signer.KeyRing, signer.Mode, bool) {
	return f.ring, f.mode, f.ring != nil
}

func newTestKey(t *testing.T, ksk, active bool) *signer.Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	flags := uint16(256)
	if ksk {
		flags = 257
	}
	dk, err := signer.NewDNSKEY("sec.test.", flags, dns.ECDSAP256SHA256, priv.Public(), 3600)
	if err != nil {
		t.Fatal(err)
	}
	return signer.NewKey(dk, priv, active)
}

func testZone(t *testing.T, rrs []dns.RR) *zones.Zone {
	t.Helper()
	z, err := zones.FromRecords("sec.test.", rrs, "test", zones.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// checkSigned verifies every RRSIG of a version against its DNSKEY RRset at now and checks the
// NSEC chain: one NSEC per authoritative name, each pointing at the next, back to the apex.
func checkSigned(t *testing.T, rrs []dns.RR, now time.Time) {
	t.Helper()
	keys := map[uint16]*dns.DNSKEY{}
	sets := map[string][]dns.RR{}
	var sigs []*dns.RRSIG
	nsecs := map[string]string{}
	for _, rr := range rrs {
		h := rr.Header()
		switch v := rr.(type) {
		case *dns.DNSKEY:
			keys[v.KeyTag()] = v
		case *dns.RRSIG:
			sigs = append(sigs, v)
			continue
		case *dns.NSEC:
			nsecs[h.Name] = v.NextDomain
		}
		k := h.Name + "/" + dns.TypeToString[h.Rrtype]
		sets[k] = append(sets[k], rr)
	}
	signed := map[string]bool{}
	for _, s := range sigs {
		k := s.Hdr.Name + "/" + dns.TypeToString[s.TypeCovered]
		key := keys[s.KeyTag]
		if key == nil {
			t.Fatalf("RRSIG by unknown key %d over %s", s.KeyTag, k)
		}
		if err := s.Verify(key, sets[k]); err != nil || !s.ValidityPeriod(now) {
			t.Fatalf("RRSIG over %s does not verify: %v", k, err)
		}
		signed[k] = true
	}
	for k := range sets {
		if !signed[k] && k != "sec.test./NS" && k != "ns1.sec.test./A" {
			// ns1 is in zone and authoritative here, so it must be signed too.
			t.Errorf("%s is not signed", k)
		}
	}
	if !signed["ns1.sec.test./A"] || !signed["sec.test./NS"] {
		t.Error("apex NS or in-zone A unsigned")
	}
	owner, n := "sec.test.", 0
	for {
		next, ok := nsecs[owner]
		if !ok {
			t.Fatalf("no NSEC at %s (chain %v)", owner, nsecs)
		}
		n++
		if owner = next; owner == "sec.test." {
			break
		}
	}
	if n != len(nsecs) {
		t.Fatalf("chain of %d links, %d NSECs", n, len(nsecs))
	}
}

// TestSignedPublisher: a version is made once and not again while nothing changes; a key
// change, a new zone serial and the signatures' age each make a new one with the right serial;
// the serial survives a restart.
func TestSignedPublisher(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	ksk, zsk := newTestKey(t, true, true), newTestKey(t, false, true)
	ring, err := signer.NewKeyRing("sec.test.", []*signer.Key{ksk, zsk}, signer.RingOptions{}, now, signer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys := &fixedKeys{ring: ring, mode: signer.NSEC}
	sig := signer.New(signer.Config{})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	out, err := NewOutgoing(OutgoingConfig{Origin: "sec.test.", Key: testKey, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	records := zoneV(t, 10)
	zone := testZone(t, records)
	// setSerial does what the server's ZoneSet does: the zone rebuilt with its serial raised.
	raises := 0
	setSerial := func(serial uint32) error {
		raises++
		z, err := zones.FromRecords("sec.test.", records, "test", zones.Options{MinSerial: serial})
		zone = z
		return err
	}
	serialPath := filepath.Join(t.TempDir(), "sec.test.serial")
	newPub := func() *Publisher {
		p, err := NewPublisher(PublisherConfig{Out: out, Zone: func() *zones.Zone { return zone }, Signed: true,
			Keys: keys, Signer: sig, SerialPath: serialPath, SetSerial: setSerial, Workers: 4, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := newPub()
	step := func(at time.Time, want uint32) []dns.RR {
		t.Helper()
		if err := p.Step(at); err != nil {
			t.Fatal(err)
		}
		serial, _ := out.Serial()
		if serial != want {
			t.Fatalf("serial %d, want %d", serial, want)
		}
		out.mu.RLock()
		defer out.mu.RUnlock()
		return out.cur
	}
	v := step(now, 10)
	checkSigned(t, v, now)
	step(now.Add(time.Minute), 10) // nothing changed

	// A new ZSK published (a rollover's first step): new version, serial + 1.
	ring2, err := signer.NewKeyRing("sec.test.", []*signer.Key{ksk, zsk, newTestKey(t, false, false)}, signer.RingOptions{}, now, signer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys.ring = ring2
	v = step(now.Add(2*time.Minute), 11)
	checkSigned(t, v, now)
	if h := out.history[len(out.history)-1]; len(h.add) == 0 || len(h.del) == 0 {
		t.Fatalf("the IXFR difference is empty: %+v", h)
	}
	// The served zone now says 11 too (an SOA query must show the version's serial), and
	// that raise is not itself a change.
	if zone.Serial() != 11 || raises != 1 {
		t.Fatalf("served serial %d after %d raises, want 11 after 1", zone.Serial(), raises)
	}
	step(now.Add(150*time.Second), 11)

	// The operator's serial moves ahead: it is taken, no raise needed.
	records = zoneV(t, 50)
	zone = testZone(t, records)
	step(now.Add(3*time.Minute), 50)
	if raises != 1 {
		t.Fatalf("%d raises, want 1", raises)
	}

	// Restart: the serial is remembered; the new process's signatures (ECDSA signing is
	// randomised) make a new version with the next serial.
	sig = signer.New(signer.Config{})
	p = newPub()
	step(now.Add(4*time.Minute), 51)

	// Past the refresh point of the signatures: re-signed, new serial.
	later := now.Add(signer.DefaultValidity - signer.DefaultRefresh + time.Hour)
	v = step(later, 52)
	checkSigned(t, v, later)
	step(later.Add(time.Minute), 52)
	if zone.Serial() != 52 {
		t.Fatalf("served serial %d, want 52", zone.Serial())
	}

	// Another denial mode: nothing is published (and nothing breaks).
	keys.mode = signer.Compact
	records = zoneV(t, 60)
	zone = testZone(t, records)
	step(later.Add(2*time.Minute), 52)
}
