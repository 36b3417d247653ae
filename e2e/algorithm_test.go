package e2e

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/admin"
)

// algKeys sums up the child's keys by algorithm: the state of the KSK and of the ZSK of
// algorithm to (empty when absent) and whether it signs, and how many keys of algorithm from
// are left, how many of those sign and how many are in the DNSKEY RRset.
type algKeys struct {
	ksk, zsk                      string
	zskSigns                      bool
	old, oldSigning, oldPublished int
}

func sumAlgKeys(d *admin.DNSSEC, from, to int) algKeys {
	var a algKeys
	for _, k := range d.Keys {
		switch {
		case k.Algorithm == to && k.Role == "KSK":
			a.ksk = k.State
		case k.Algorithm == to:
			a.zsk, a.zskSigns = k.State, k.Signs
		case k.Algorithm == from:
			a.old++
			if k.Signs {
				a.oldSigning++
			}
			if k.InDNSKEY {
				a.oldPublished++
			}
		}
	}
	return a
}

// TestAlgorithmRolloverRealTime changes the child's algorithm from 13 (ECDSA P-256) to 15
// (Ed25519) in the configuration and restarts Signet, against the registrar that follows CDS
// literally, with unbound validating all along; Signet is killed with SIGKILL at every step of
// the rollover (RFC 6781 §4.1.4: new signatures, new DNSKEYs, new DS, DNSKEY removal). No
// answer may fail, and at the end the child is signed with algorithm 15 alone.
func TestAlgorithmRolloverRealTime(t *testing.T) {
	algorithmRealTime(t, false)
}

// TestAlgorithmRolloverManualKSK is TestAlgorithmRolloverRealTime for a child whose KSK is
// rolled by hand (ksk_rollover: manual): the algorithm rollover runs all the same (as in Knot
// and BIND), Signet is restarted only for the configuration change, and the old KSK is left
// INACTIVE for the operator to delete.
func TestAlgorithmRolloverManualKSK(t *testing.T) {
	algorithmRealTime(t, true)
}

func algorithmRealTime(t *testing.T, manualKSK bool) {
	tm := rollTimings{zskLifetime: "-1s", kskLifetime: time.Hour, parentDSTTL: rollDSTTL, manualKSK: manualKSK}
	l := startRollLab(t, tm)
	const from, to = 13, 15
	at := func(d *admin.DNSSEC) algKeys { return sumAlgKeys(d, from, to) }
	changed := false
	kills := []killPoint{
		{"configuration changed to algorithm 15", func(k *keyTracker, d *admin.DNSSEC) bool {
			if changed || time.Since(l.start) < 3*time.Second {
				return false // let unbound cache the zone under algorithm 13 first
			}
			tm.algorithm = "ED25519"
			if err := os.WriteFile(l.s.args[1], []byte(tm.config(l, l.child, l.s.Addr)), 0o600); err != nil {
				t.Fatal(err)
			}
			changed = true
			return true
		}},
		{"new signatures: the new ZSK signs, not yet published", func(k *keyTracker, d *admin.DNSSEC) bool {
			a := at(d)
			return a.zsk == "generated" && a.zskSigns
		}},
		{"new DNSKEYs: the new KSK ready, CDS names it", func(k *keyTracker, d *admin.DNSSEC) bool {
			return at(d).ksk == "ready"
		}},
		{"new DS at the parent, swap pending", func(k *keyTracker, d *admin.DNSSEC) bool {
			return at(d).ksk == "ready" && l.dsChanged() >= 1
		}},
		{"DNSKEY removal: old keys withdrawn, their signatures kept", func(k *keyTracker, d *admin.DNSSEC) bool {
			a := at(d)
			return a.ksk == "active" && a.oldSigning > 0 && a.oldPublished == 0
		}},
	}
	if manualKSK {
		kills = kills[:1]
	}
	w, k, killed := rollRun(t, l, 60*time.Second, kills, func(k *keyTracker) bool {
		a := at(k.last)
		// With manual KSK rollover the old KSK stays (INACTIVE: out of every RRset).
		return changed && a.ksk == "active" && a.zsk == "active" && (a.old == 0 || manualKSK && a.oldSigning == 0 && a.oldPublished == 0)
	}, 2*rollDSTTL)

	bad, excused := w.failures()
	t.Logf("%d queries to unbound over %.1fs; KSKs %v, ZSKs %v seen signing; removed: KSK %v, ZSK %v; registrar DS changes: %d; RRSIG key tags seen by unbound on www A: %v; kill -9 at: %q; excused failures during the restart gaps: %d",
		w.queries, time.Since(l.start).Seconds(), k.kskSigned, k.zskSigned, k.kskGone, k.zskGone, l.dsChanged(), w.sigTags, killed, len(excused))
	for _, f := range excused {
		t.Logf("excused (server restarting): %s", f)
	}
	if len(bad) > 0 {
		var b strings.Builder
		for _, f := range bad {
			b.WriteString(f.String() + "\n")
		}
		t.Errorf("%d failed answers from unbound during the algorithm rollover:\n%s", len(bad), b.String())
	}
	if len(killed) != len(kills) {
		t.Errorf("killed at %q, want all of the %d kill points", killed, len(kills))
	}
	if manualKSK {
		old := ""
		for _, key := range k.last.Keys {
			if key.Role == "KSK" && key.Algorithm == from {
				old = key.Status
			}
		}
		if old != "INACTIVE" {
			t.Errorf("the old KSK is %q at the end, want INACTIVE (left for the operator to delete)", old)
		}
	}
	if n := l.dsChanged(); n != 1 {
		t.Errorf("the registrar changed the DS RRset %d times, want once (to the new KSK)", n)
	}
	// Signet now serves algorithm 15 alone, and unbound validated answers signed by it.
	algs := func(rrs []dns.RR, typ uint16) []int {
		var out []int
		for _, rr := range rrs {
			switch r := rr.(type) {
			case *dns.RRSIG:
				if r.TypeCovered == typ {
					out = append(out, int(r.Algorithm))
				}
			case *dns.DNSKEY:
				out = append(out, int(r.Algorithm))
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	if got := algs(l.s.query(t, rollChild, dns.TypeDNSKEY, true).Answer, dns.TypeDNSKEY); !slices.Equal(got, []int{to}) {
		t.Errorf("DNSKEY RRset and its signatures have algorithms %v, want [%d]", got, to)
	}
	if got := algs(l.s.query(t, "www."+rollChild, dns.TypeA, true).Answer, dns.TypeA); !slices.Equal(got, []int{to}) {
		t.Errorf("www A is signed with algorithms %v, want [%d]", got, to)
	}
	newZSK := 0
	for _, key := range k.last.Keys {
		if key.Role == "ZSK" && key.Algorithm == to {
			newZSK = key.KeyTag
		}
	}
	if !w.sigTags[uint16(newZSK)] {
		t.Errorf("unbound never validated an answer signed by the new ZSK %d (saw %v)", newZSK, w.sigTags)
	}
}
