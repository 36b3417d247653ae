package keymgr

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestDSMatchesDsfromkey: the DS the API shows for each KSK is what BIND's dnssec-dsfromkey
// computes from the DNSKEY the zone serves.
func TestDSMatchesDsfromkey(t *testing.T) {
	tool, err := exec.LookPath("dnssec-dsfromkey")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("dnssec-dsfromkey is missing in CI: %v", err)
		}
		t.Skip("dnssec-dsfromkey not installed")
	}
	ctx := context.Background()
	for _, alg := range []uint8{dns.ECDSAP256SHA256, dns.ED25519, dns.RSASHA256} {
		t.Run(dns.AlgorithmToString[alg], func(t *testing.T) {
			f := setup(t, ZonePolicy{QuickStart: true, Algorithm: alg})
			got, err := f.m.GetDNSSEC(ctx, testZone)
			if err != nil {
				t.Fatal(err)
			}
			ring, _, _ := f.m.Signing(testZone)
			k := got.KeySigningKeys[0]
			var served *dns.DNSKEY
			for _, rr := range ring.DNSKEYs() {
				if dk := rr.(*dns.DNSKEY); dk.Flags == 257 {
					served = dk
				}
			}
			if served == nil || served.String() != k.DNSKEYZoneFile || served.PublicKey != k.PublicKey {
				t.Fatalf("API DNSKEY %q, served %v", k.DNSKEYZoneFile, served)
			}
			file := filepath.Join(t.TempDir(), "dnskey")
			if err := os.WriteFile(file, []byte(served.String()+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(tool, "-2", "-f", file, testZone).Output()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("%s: %v: %s", tool, err, ee.Stderr)
			} else if err != nil {
				t.Fatal(err)
			}
			want, err := dns.NewRR(strings.TrimSpace(string(out)))
			if err != nil {
				t.Fatalf("parse %q: %v", out, err)
			}
			wds := want.(*dns.DS)
			gds := mustRR(t, k.DSZoneFile).(*dns.DS)
			if gds.KeyTag != wds.KeyTag || gds.Algorithm != wds.Algorithm || gds.DigestType != wds.DigestType || !strings.EqualFold(gds.Digest, wds.Digest) {
				t.Errorf("DS %s, dnssec-dsfromkey %s", gds, wds)
			}
			if k.KeyTag != int(wds.KeyTag) || k.SigningAlgorithmType != int(alg) || k.DigestAlgorithmType != 2 ||
				!strings.EqualFold(k.DigestValue, wds.Digest) || k.SigningAlgorithmMnemonic != dns.AlgorithmToString[alg] || k.DigestAlgorithmMnemonic != "SHA-256" {
				t.Errorf("fields %+v do not match %s", k, wds)
			}
			if rd := strings.Fields(k.DSRecord); len(rd) != 4 || !strings.EqualFold(rd[3], wds.Digest) {
				t.Errorf("DSRecord %q", k.DSRecord)
			}
		})
	}
}
