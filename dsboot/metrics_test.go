package dsboot

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/signetdns/signet/signer"
)

// TestMetrics: the signals published and the gaps are exported, labelled, and follow the
// last sync.
func TestMetrics(t *testing.T) {
	l := newLab(t)
	reg := prometheus.NewRegistry()
	if err := l.pub.RegisterMetrics(reg); err != nil {
		t.Fatal(err)
	}
	l.keys.set("child.test.", ring(t, "child.test.", signer.RingOptions{CDS: true}))
	l.pub.Sync()
	want := `
# HELP signet_dsboot_signals RFC 9615 signalling records published: 1 per child zone and name server, labelled with the zone that holds them.
# TYPE signet_dsboot_signals gauge
signet_dsboot_signals{child="child.test.",nameserver="ns1.example.net.",zone="example.net."} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "signet_dsboot_signals", "signet_dsboot_gaps"); err != nil {
		t.Error(err)
	}

	l.keys.set("example.net.", nil)
	l.pub.Sync()
	if n, err := testutil.GatherAndCount(reg, "signet_dsboot_signals"); err != nil || n != 0 {
		t.Errorf("%d signals after the signalling zone went unsigned (%v)", n, err)
	}
	want = `
# HELP signet_dsboot_gaps Name servers of a child publishing CDS/CDNSKEY under which no RFC 9615 signal can be published here (nameserver empty: the child as a whole), with the reason.
# TYPE signet_dsboot_gaps gauge
signet_dsboot_gaps{child="child.test.",nameserver="ns1.example.net.",reason="zone example.net. is not signed, and a signal must validate (RFC 9615 §3.1)"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "signet_dsboot_gaps"); err != nil {
		t.Error(err)
	}
}
