package keymgr

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/rollover"
)

// TestAlgorithmRolloverManualKSK changes the algorithm of a zone whose KSK is rolled by hand
// (Route 53's procedure) from 13 to 15, against a parent that follows CDS at once, the
// harshest one: the algorithm rollover runs as with automatic KSK rollover (RFC 6781
// §4.1.4), no combination a resolver may cache is bogus (RFC 7583, RFC 4035 §2.2: every
// algorithm of a cached DNSKEY RRset signs the data), the operator's KSK operations are
// refused while it runs, and it ends with the new KSK ACTIVE, its DS alone at the parent, and
// the old KSK INACTIVE for the operator to delete.
func TestAlgorithmRolloverManualKSK(t *testing.T) {
	for _, delay := range []time.Duration{0, 6 * time.Hour} {
		t.Run(fmt.Sprintf("parent delay %v", delay), func(t *testing.T) {
			ctx := context.Background()
			parent := newParent(delay)
			p := ZonePolicy{QuickStart: true, Parents: []string{parent.addr}, Algorithm: dns.ECDSAP256SHA256,
				MaxZoneTTL: func() time.Duration { return time.Hour },
				Rollover:   rollover.Policy{ZSKLifetime: 30 * day, ParentDSTTL: time.Hour}}
			f := setup(t, p, parent.use)
			d := newDriver(t, f, parent, p)
			d.run(t0.Add(day))

			// The configuration changes and Signet restarts.
			d.policy.Algorithm = dns.ED25519
			d.restart()
			got, _ := d.f.m.GetDNSSEC(ctx, testZone)
			if got.Rollover.AlgorithmFrom != 13 || got.Rollover.AlgorithmTo != 15 {
				t.Fatalf("status after the change: %+v", got.Rollover)
			}
			mustCode(t, d.f.m.CreateKSK(ctx, testZone, "mine", StatusActive), CodeConcurrentModification)
			d.run(d.now.Add(10 * day))
			d.violations()

			got, _ = d.f.m.GetDNSSEC(ctx, testZone)
			if got.Rollover.AlgorithmFrom != 0 {
				t.Errorf("the algorithm rollover has not ended: %+v", got.Rollover)
			}
			var active, inactive []string
			for _, k := range got.KeySigningKeys {
				switch k.Status {
				case StatusActive:
					active = append(active, fmt.Sprintf("%s/%d", k.Name, k.SigningAlgorithmType))
				case StatusInactive:
					inactive = append(inactive, fmt.Sprintf("%s/%d", k.Name, k.SigningAlgorithmType))
				}
			}
			if len(active) != 1 || active[0][len(active[0])-3:] != "/15" || len(inactive) != 1 || inactive[0] != "quickstart/13" {
				t.Errorf("KSKs at the end: active %v, inactive %v; want one of algorithm 15, and quickstart/13 inactive", active, inactive)
			}
			for _, k := range d.ring.Keys() {
				if k.DNSKEY.Algorithm != dns.ED25519 {
					t.Errorf("key %d of algorithm %d still in the ring", k.Tag, k.DNSKEY.Algorithm)
				}
			}
			if ds := parent.digests(); len(ds) != 1 {
				t.Errorf("parent DS RRset at the end: %v, want the new KSK's alone", ds)
			}
			// The operator deletes the old KSK; KSK operations are allowed again.
			if err := d.f.m.DeleteKSK(ctx, testZone, "quickstart"); err != nil {
				t.Errorf("delete the old KSK: %v", err)
			}
		})
	}
}
