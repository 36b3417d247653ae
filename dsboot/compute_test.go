package dsboot

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

func TestName(t *testing.T) {
	if got, ok := Name("Example.CO.uk", "NS1.example.net."); !ok || got != "_dsboot.example.co.uk._signal.ns1.example.net." {
		t.Errorf("Name = %q, %v", got, ok)
	}
	// 255 octets at most (RFC 1035 §3.1): _dsboot (8) + child + _signal (8) + host + root (1).
	label := strings.Repeat("a", 63)
	child := label + "." + label + "."                                                 // 128 octets in wire form
	host := func(n int) string { return label + "." + strings.Repeat("b", n) + ".x." } // 64 + n+1 + 2 octets
	if _, ok := Name(child, host(43)); !ok {                                           // 8 + 128 + 8 + 110 + 1 = 255
		t.Error("a 255-octet signalling name refused")
	}
	if _, ok := Name(child, host(44)); ok {
		t.Error("a 256-octet signalling name accepted")
	}
	if _, ok := Name(".", "ns1.example.net."); ok {
		t.Error("a signal for the root accepted")
	}
}

// served is a Zones over a zones.Store.
func served(t *testing.T, zs ...*zones.Zone) *zones.Store {
	t.Helper()
	s := zones.NewStore()
	for _, z := range zs {
		s.Set(z)
	}
	return s
}

// TestCompute: a signed child with CDS/CDNSKEY gets copies of them under every out-of-domain
// name server held by a signed zone served here, with the apex TTL; name servers inside the
// child are left out; name servers in unsigned zones, in no zone, or below a cut are gaps; a
// child without CDS gets nothing; the delete sentinels are copied as they are.
func TestCompute(t *testing.T) {
	net := zone(t, "example.net.", "@ NS ns1", "ns1 A 192.0.2.1", "deleg NS ns.elsewhere.test.")
	org := zone(t, "example.org.", "@ NS ns2", "ns2 A 192.0.2.2")
	child := zone(t, "child.test.", "@ NS ns1.example.net.", "@ NS NS1.Example.NET.", "@ NS ns2.example.org.",
		"@ NS ns3.child.test.", "@ NS ns.deleg.example.net.", "@ NS ns9.nowhere.test.", "ns3 A 192.0.2.3")
	inner := zone(t, "inner.test.", "@ NS ns.inner.test.", "ns A 192.0.2.4")
	quiet := zone(t, "quiet.test.", "@ NS ns1.example.net.")
	gone := zone(t, "gone.test.", "@ NS ns1.example.net.")
	unsignedChild := zone(t, "plain.test.", "@ NS ns1.example.net.")

	k := newKeys()
	k.set("example.net.", ring(t, "example.net.", signer.RingOptions{}))
	cr := ring(t, "child.test.", signer.RingOptions{CDS: true, DNSKEYTTL: 120})
	k.set("child.test.", cr)
	k.set("inner.test.", ring(t, "inner.test.", signer.RingOptions{CDS: true}))
	k.set("quiet.test.", ring(t, "quiet.test.", signer.RingOptions{}))
	gr := ring(t, "gone.test.", signer.RingOptions{Delete: true})
	k.set("gone.test.", gr)

	p := Compute(served(t, net, org, child, inner, quiet, gone, unsignedChild), k)

	if len(p.Records) != 1 {
		t.Fatalf("signalling zones %v, want only example.net.", p.Records)
	}
	got := p.Records["example.net."]
	childSig, goneSig := "_dsboot.child.test._signal.ns1.example.net.", "_dsboot.gone.test._signal.ns1.example.net."
	var atChild, atGone []dns.RR
	for _, rr := range got {
		switch rr.Header().Name {
		case childSig:
			atChild = append(atChild, rr)
		case goneSig:
			atGone = append(atGone, rr)
		default:
			t.Errorf("unexpected record %s", rr)
		}
	}
	if want := rdata(append(cr.CDS(), cr.CDNSKEY()...)); rdata(atChild) != want || len(atChild) != 2 {
		t.Errorf("child's signal:\n%s\nwant the apex's CDS and CDNSKEY:\n%s", rdata(atChild), want)
	}
	if atChild[0].Header().Ttl != 120 {
		t.Errorf("signal TTL %d, want the apex's 120", atChild[0].Header().Ttl)
	}
	if want := rdata(append(gr.CDS(), gr.CDNSKEY()...)); rdata(atGone) != want || !strings.Contains(want, "CDS\t0 0 0 00") {
		t.Errorf("delete sentinels:\n%s\nwant\n%s", rdata(atGone), want)
	}
	// The ring's own records are not the ones handed out: the copies are re-owned.
	if cr.CDS()[0].Header().Name != "child.test." {
		t.Errorf("the ring's CDS was modified: %s", cr.CDS()[0])
	}

	var signals []string
	for _, s := range p.Signals {
		signals = append(signals, s.Child+" "+s.Host+" "+s.Zone)
	}
	slices.Sort(signals)
	if want := []string{"child.test. ns1.example.net. example.net.", "gone.test. ns1.example.net. example.net."}; !slices.Equal(signals, want) {
		t.Errorf("signals %q, want %q", signals, want)
	}

	gaps := map[string]string{}
	for _, g := range p.Gaps {
		gaps[g.Child+" "+g.Host] = g.Reason
	}
	for key, want := range map[string]string{
		"child.test. ns2.example.org.":      "zone example.org. is not signed",
		"child.test. ns.deleg.example.net.": "at or below a zone cut in example.net.",
		"child.test. ns9.nowhere.test.":     "no zone served here holds ns9.nowhere.test.",
		"inner.test. ":                      "every name server is inside the zone",
	} {
		if !strings.Contains(gaps[key], want) {
			t.Errorf("gap %q: %q, want it to say %q", key, gaps[key], want)
		}
	}
	if len(p.Gaps) != 4 {
		t.Errorf("gaps: %v, want 4", p.Gaps)
	}
}

// TestComputeCutAtSignal: a zone served here whose apex is the signalling name would put the
// signal at a zone cut, which RFC 9615 §4.1 forbids: it is a gap, and a _signal.<host> zone of
// its own is where the signal goes.
func TestComputeCutAtSignal(t *testing.T) {
	child := zone(t, "child.test.", "@ NS ns1.example.net.", "@ NS ns2.example.net.")
	at := zone(t, "_dsboot.child.test._signal.ns1.example.net.", "@ NS ns1.example.net.")
	sig := zone(t, "_signal.ns2.example.net.", "@ NS ns2.example.net.")
	k := newKeys()
	k.set("child.test.", ring(t, "child.test.", signer.RingOptions{CDS: true}))
	k.set(at.Origin(), ring(t, at.Origin(), signer.RingOptions{}))
	k.set(sig.Origin(), ring(t, sig.Origin(), signer.RingOptions{}))
	p := Compute(served(t, child, at, sig), k)
	if len(p.Gaps) != 1 || p.Gaps[0].Host != "ns1.example.net." || !strings.Contains(p.Gaps[0].Reason, "zone cut") {
		t.Errorf("gaps %v", p.Gaps)
	}
	if got := p.Records[sig.Origin()]; len(got) != 2 || got[0].Header().Name != "_dsboot.child.test._signal.ns2.example.net." {
		t.Errorf("signal in the _signal zone: %v", got)
	}
}

// TestComputeDelegationNS: a name server listed only in the delegation at a parent served
// here gets a signal too: the parent's agent reads the delegation's NS RRset.
func TestComputeDelegationNS(t *testing.T) {
	parent := zone(t, "test.", "@ NS ns1.example.net.", "child NS ns1.example.net.", "child NS ns2.example.net.")
	child := zone(t, "child.test.", "@ NS ns1.example.net.")
	net := zone(t, "example.net.", "@ NS ns1", "ns1 A 192.0.2.1", "ns2 A 192.0.2.2")
	k := newKeys()
	k.set("child.test.", ring(t, "child.test.", signer.RingOptions{CDS: true}))
	k.set("example.net.", ring(t, "example.net.", signer.RingOptions{}))
	p := Compute(served(t, parent, child, net), k)
	var hosts []string
	for _, s := range p.Signals {
		hosts = append(hosts, s.Host)
	}
	if want := []string{"ns1.example.net.", "ns2.example.net."}; !slices.Equal(hosts, want) || len(p.Gaps) != 0 {
		t.Errorf("signals under %v (gaps %v), want %v", hosts, p.Gaps, want)
	}
}

// TestComputeSignallingZoneWithoutData: a signalling zone that failed to load is a gap, and a
// zone without data is never a child.
func TestComputeSignallingZoneWithoutData(t *testing.T) {
	child := zone(t, "child.test.", "@ NS ns1.example.net.")
	k := newKeys()
	k.set("child.test.", ring(t, "child.test.", signer.RingOptions{CDS: true}))
	k.set("example.net.", ring(t, "example.net.", signer.RingOptions{}))
	k.set("broken.test.", ring(t, "broken.test.", signer.RingOptions{CDS: true}))
	p := Compute(served(t, child, zones.Failed("example.net.", "zone failed to load"), zones.Failed("broken.test.", "x")), k)
	if len(p.Records) != 0 || len(p.Gaps) != 1 || !strings.Contains(p.Gaps[0].Reason, "no data") {
		t.Errorf("records %v gaps %v", p.Records, p.Gaps)
	}
}
