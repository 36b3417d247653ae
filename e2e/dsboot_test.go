package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
)

// The DS bootstrapping lab: the parent example.test. delegates bootme.example.test. without a DS
// (the child is not secure yet) to three name servers: ns1.provider.test. (a third zone, signed
// here), ns1.example.test. (in the parent, signed here) and ns.bootme.example.test. (inside the
// child). The child is signed and publishes CDS/CDNSKEY.
const (
	bootChild    = "bootme.example.test."
	bootProvider = "provider.test."
	bootParent   = "example.test."
)

var bootZones = map[string]string{
	bootParent: `@ NS ns1
ns1 A 127.0.0.1
www A 192.0.2.1
bootme NS ns1.provider.test.
bootme NS ns1.example.test.
bootme NS ns.bootme.example.test.
ns.bootme A 127.0.0.2
`,
	bootProvider: `@ NS ns1
ns1 A 127.0.0.1
`,
	bootChild: `@ NS ns1.provider.test.
@ NS ns1.example.test.
@ NS ns.bootme.example.test.
ns A 127.0.0.2
www A 192.0.2.9
`,
}

// startBootLab serves the three zones, every one signed with the given denial mode, and
// returns the server and the zone files by origin.
func startBootLab(t *testing.T, denial string) (*signet, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{}
	for origin, body := range bootZones {
		path := filepath.Join(dir, origin+"zone")
		text := fmt.Sprintf("$ORIGIN %s\n$TTL 60\n@ SOA ns1.provider.test. hostmaster.provider.test. 1 60 60 600 5\n%s", origin, body)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		files[origin] = path
	}
	s := startSignetConfig(t, func(string) string {
		return fmt.Sprintf(`dnssec:
  enabled: true
  denial: %s
  dnskey_ttl: 60
zones:
  - origin: %s
    file: %s
  - origin: %s
    file: %s
  - origin: %s
    file: %s
    cds: true
`, denial, bootParent, files[bootParent], bootProvider, files[bootProvider], bootChild, files[bootChild])
	})
	return s, files
}

// setOf returns the records of type qtype in rrs as sorted RDATA text (owner and TTL left out).
func setOf(rrs []dns.RR, qtype uint16) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != qtype {
			continue
		}
		h := rr.Header()
		out = append(out, strings.TrimPrefix(rr.String(), h.String()))
	}
	slices.Sort(out)
	return out
}

// delvRecords parses the records delv printed.
func delvRecords(t *testing.T, out string) []dns.RR {
	t.Helper()
	var rrs []dns.RR
	for _, line := range strings.Split(out, "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			continue // delv's own messages on stderr
		}
		rrs = append(rrs, rr)
	}
	return rrs
}

// checkSignal checks, for CDS and CDNSKEY, that delv validates the signal of the child under
// host with only the DS of anchorZone as trust anchor, and that what it validated equals the
// child's apex RRset as Signet serves it. It returns the CDS RDATA.
func checkSignal(t *testing.T, s *signet, step, host, anchorZone string) []string {
	t.Helper()
	anchors := resolvertest.ParseAnchors(t, s.ds(t, anchorZone))
	name := "_dsboot." + bootChild + "_signal." + host
	var cds []string
	for _, qtype := range []uint16{dns.TypeCDS, dns.TypeCDNSKEY} {
		apex := setOf(s.query(t, bootChild, qtype, true).Answer, qtype)
		if len(apex) == 0 {
			t.Fatalf("%s: the child publishes no %s", step, dns.TypeToString[qtype])
		}
		out, ok := resolvertest.Delv(t, s.Addr, anchors, name, dns.TypeToString[qtype])
		if !ok {
			t.Fatalf("%s: delv %s %s (anchor: %s's DS) not fully validated:\n%s", step, name, dns.TypeToString[qtype], anchorZone, out)
		}
		got := setOf(delvRecords(t, out), qtype)
		if !slices.Equal(got, apex) {
			t.Fatalf("%s: validated signal %s %s:\n%s\nthe child's apex:\n%s", step, name, dns.TypeToString[qtype],
				strings.Join(got, "\n"), strings.Join(apex, "\n"))
		}
		if qtype == dns.TypeCDS {
			cds = got
		}
	}
	return cds
}

// TestDSBootstrapping runs the real binary with a parent, a child whose name servers are in a
// third signed zone and in the parent, and checks with delv, trusting only the DS of the zone
// that holds each name server, that the RFC 9615 signalling records validate and equal the
// child's CDS/CDNSKEY, also after the child's CDS changes (a new KSK); that other names under
// _signal are denied with validated proofs in every denial mode; and that no signal is
// published under the name server inside the child.
func TestDSBootstrapping(t *testing.T) {
	resolvertest.RequireTool(t, "delv")
	for _, denial := range []string{"compact", "blacklies", "whitelies", "nsec"} {
		t.Run(denial, func(t *testing.T) {
			t.Parallel()
			s, _ := startBootLab(t, denial)
			before := checkSignal(t, s, "start", "ns1.provider.test.", bootProvider)
			checkSignal(t, s, "start", "ns1.example.test.", bootParent)
			if r := s.query(t, "_dsboot."+bootChild+"_signal.ns.bootme.example.test.", dns.TypeCDS, true); len(setOf(r.Answer, dns.TypeCDS)) != 0 {
				t.Errorf("a signal under the in-domain name server: %v", r.Answer)
			}
			fams := scrape(t, s)
			for _, host := range []string{"ns1.provider.test.", "ns1.example.test."} {
				if v := metric(t, fams, "signet_dsboot_signals", "nameserver", host); v != 1 {
					t.Errorf("signet_dsboot_signals{nameserver=%q} = %v, want 1", host, v)
				}
			}
			if n := len(fams["signet_dsboot_signals"].GetMetric()); n != 2 {
				t.Errorf("%d signals exported, want 2", n)
			}
			if g := fams["signet_dsboot_gaps"]; g != nil {
				t.Errorf("gaps exported: %v", g)
			}

			anchors := resolvertest.ParseAnchors(t, s.ds(t, bootProvider))
			for _, q := range []struct{ name, qtype string }{
				{"_dsboot.other.test._signal.ns1.provider.test.", "CDS"},           // another child
				{"_dsboot." + bootChild + "_signal.ns1.provider.test.", "A"},       // NODATA at the signal
				{"_signal.ns1.provider.test.", "TXT"},                              // the signalling domain, an empty non-terminal
				{"example.test._signal.ns1.provider.test.", "CDS"},                 // an empty non-terminal below it
				{"_dsboot." + bootChild + "_signal.ns2.provider.test.", "CDNSKEY"}, // a name server not in the zone
			} {
				out, ok := resolvertest.Delv(t, s.Addr, anchors, q.name, q.qtype)
				if !ok || !strings.Contains(out, "negative response") {
					t.Errorf("delv %s %s: want a validated negative response:\n%s", q.name, q.qtype, out)
				}
			}

			// A second KSK: the child's CDS names it, and the signals follow.
			s.run(t, "ksk", "create", bootChild, "ksk2", "--status", "ACTIVE")
			deadline := time.Now().Add(20 * time.Second)
			for slices.Equal(setOf(s.query(t, bootChild, dns.TypeCDS, true).Answer, dns.TypeCDS), before) {
				if time.Now().After(deadline) {
					t.Fatal("the child's CDS did not change after ksk create")
				}
				time.Sleep(50 * time.Millisecond)
			}
			for _, ns := range []struct{ host, zone string }{{"ns1.provider.test.", bootProvider}, {"ns1.example.test.", bootParent}} {
				name := "_dsboot." + bootChild + "_signal." + ns.host
				for {
					apex := setOf(s.query(t, bootChild, dns.TypeCDS, true).Answer, dns.TypeCDS)
					if slices.Equal(setOf(s.query(t, name, dns.TypeCDS, true).Answer, dns.TypeCDS), apex) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the signal under %s did not follow the child's new CDS within 20 s", ns.host)
					}
					time.Sleep(50 * time.Millisecond)
				}
				if after := checkSignal(t, s, "after ksk create", ns.host, ns.zone); slices.Equal(after, before) {
					t.Fatalf("the signal under %s did not change: %v", ns.host, after)
				}
			}
		})
	}
}

// TestDSBootstrappingParent plays the parent of RFC 9615 §4.2 against the real binary: the
// child has no DS and a name server outside it; its CDS/CDNSKEY are read from the server
// directly; the signals under every name server outside the child are validated with delv
// (each from the DS of the zone holding the name server) and must equal them; then the parent
// publishes the DS the CDS names. Before, delv trusting only the parent's DS calls the child's
// answers unsigned; after, fully validated: the chain of trust reached the child without the
// operator copying a DS.
func TestDSBootstrappingParent(t *testing.T) {
	resolvertest.RequireTool(t, "delv")
	s, files := startBootLab(t, "compact")
	parentAnchor := resolvertest.ParseAnchors(t, s.ds(t, bootParent))
	out, ok := resolvertest.Delv(t, s.Addr, parentAnchor, "www."+bootChild, "A")
	if ok || !strings.Contains(out, "unsigned answer") {
		t.Fatalf("before bootstrapping: want an unsigned answer for the insecure child:\n%s", out)
	}

	// Step 1: no DS at the parent, and a name server outside the child.
	if r := s.query(t, bootChild, dns.TypeDS, true); len(setOf(r.Answer, dns.TypeDS)) != 0 {
		t.Fatalf("the child already has a DS: %v", r.Answer)
	}
	var outside []string
	for _, rr := range s.query(t, bootChild, dns.TypeNS, false).Answer { // the same as the delegation's
		if ns, ok := rr.(*dns.NS); ok && !dns.IsSubDomain(bootChild, ns.Ns) {
			outside = append(outside, ns.Ns)
		}
	}
	slices.Sort(outside)
	if want := []string{"ns1.example.test.", "ns1.provider.test."}; !slices.Equal(outside, want) {
		t.Fatalf("name servers outside the child: %v, want %v", outside, want)
	}
	// Steps 2-4: the apex CDS, asked directly, equals every validated signal.
	apex := setOf(s.query(t, bootChild, dns.TypeCDS, false).Answer, dns.TypeCDS)
	for _, host := range outside {
		zone := bootParent
		if strings.HasSuffix(host, bootProvider) {
			zone = bootProvider
		}
		if got := checkSignal(t, s, "parent", host, zone); !slices.Equal(got, apex) {
			t.Fatalf("signal under %s: %v, apex %v", host, got, apex)
		}
	}

	// The parent publishes the DS records the CDS names, and reloads.
	var ds strings.Builder
	for _, rdata := range apex {
		fmt.Fprintf(&ds, "bootme 60 IN DS %s\n", rdata)
	}
	b, err := os.ReadFile(files[bootParent])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), " 1 60 60 600 5", " 2 60 60 600 5", 1) + ds.String()
	if err := os.WriteFile(files[bootParent], []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	s.run(t, "reload")
	for _, q := range []struct{ name, qtype string }{{"www." + bootChild, "A"}, {bootChild, "CDS"}, {"nope." + bootChild, "A"}} {
		out, ok := resolvertest.Delv(t, s.Addr, parentAnchor, q.name, q.qtype)
		if !ok {
			t.Errorf("after bootstrapping: delv %s %s from the parent's DS not fully validated:\n%s", q.name, q.qtype, out)
		}
	}
}
