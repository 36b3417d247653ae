package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
	"github.com/signetdns/signet/internal/resolvertest"
)

// dnParent redirects old.dn.test. to new.dn.test. with a DNAME (RFC 6672), hides a record
// below the DNAME owner, delegates apex.dn.test. (whose apex is a DNAME: the whole zone is
// redirected) and holds SVCB and HTTPS records whose targets have in-zone addresses.
const dnParent = `$ORIGIN dn.test.
$TTL 3600
@		SOA	ns1 hostmaster 1 7200 3600 1209600 300
@		NS	ns1
ns1		A	192.0.2.53
old		DNAME	new.dn.test.
old		TXT	"the owner keeps its own data"
hidden.old	A	192.0.2.66
www.new		A	192.0.2.7
apex		NS	ns1.dn.test.
apex		DS	12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
svc		HTTPS	1 . alpn=h2
svc		A	192.0.2.30
svc		AAAA	2001:db8::30
_8443._foo	SVCB	1 www.new port=8443
`

const dnChild = `$ORIGIN apex.dn.test.
$TTL 3600
@		SOA	ns1.dn.test. hostmaster.dn.test. 1 7200 3600 1209600 300
@		NS	ns1.dn.test.
@		DNAME	new.dn.test.
`

var delvFailure = regexp.MustCompile(`resolution failed: .*`)

var dnDSPlaceholder = regexp.MustCompile(`(?m)^apex\s+DS\s+.*$`)

// startDN serves dn.test. and apex.dn.test. signed in the given denial mode, the parent holding
// the child's real DS, and returns the server and the parent's DS as delv's trust anchor.
func startDN(t *testing.T, mode string) (*signet, []dns.RR) {
	t.Helper()
	dir := t.TempDir()
	parent, child := filepath.Join(dir, "dn.test.zone"), filepath.Join(dir, "apex.dn.test.zone")
	for p, text := range map[string]string{parent: dnParent, child: dnChild} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := startSignet(t, "", "--dnssec", "--denial", mode, "--zone", "dn.test.="+parent, "--zone", "apex.dn.test.="+child)
	ds := strings.ReplaceAll(s.ds(t, "apex.dn.test."), "apex.dn.test.", "apex")
	if err := os.WriteFile(parent, dnDSPlaceholder.ReplaceAll([]byte(dnParent), []byte(ds)), 0o644); err != nil {
		t.Fatal(err)
	}
	s.run(t, "reload")
	return s, resolvertest.ParseAnchors(t, s.ds(t, "dn.test."))
}

// TestDNAME checks DNAME redirection (RFC 6672) against the real validator, in every denial
// mode: delv validates the answer through the redirect, the denials at its target, the owner
// itself and a zone whose apex is a DNAME; and no denial ever claims that a name below a DNAME
// owner does not exist.
func TestDNAME(t *testing.T) {
	resolvertest.RequireTool(t, "delv")
	for _, mode := range []string{"compact", "blacklies", "whitelies", "nsec", "nsec3"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			s, anchors := startDN(t, mode)
			missing := dns.RcodeSuccess
			if mode == "whitelies" || mode == "nsec" || mode == "nsec3" {
				missing = dns.RcodeNameError
			}
			// old\000.dn.test. sorts right after old.dn.test.'s descendants: a white lie
			// would have to start below the DNAME owner, so white lies claim it exists instead.
			edge := missing
			if mode == "whitelies" {
				edge = dns.RcodeSuccess
			}
			for _, c := range []struct {
				name, qtype string
				rcode       int
				answer      []string // substrings of the answer section
				target      string   // the name a denial must be about
			}{
				{"www.old.dn.test.", "A", dns.RcodeSuccess, []string{"DNAME\tnew.dn.test.", "CNAME\twww.new.dn.test.", "192.0.2.7"}, ""},
				{"nx.old.dn.test.", "A", missing, []string{"DNAME\tnew.dn.test.", "CNAME\tnx.new.dn.test."}, "nx.new.dn.test."},
				{"www.old.dn.test.", "TXT", dns.RcodeSuccess, []string{"DNAME\tnew.dn.test.", "CNAME\twww.new.dn.test."}, "www.new.dn.test."},
				{"hidden.old.dn.test.", "A", missing, []string{"CNAME\thidden.new.dn.test."}, "hidden.new.dn.test."},
				{"old.dn.test.", "DNAME", dns.RcodeSuccess, []string{"DNAME\tnew.dn.test."}, ""},
				{"old.dn.test.", "TXT", dns.RcodeSuccess, []string{"owner keeps its own data"}, ""},
				{"old.dn.test.", "A", dns.RcodeSuccess, nil, "old.dn.test."},
				{"www.apex.dn.test.", "A", dns.RcodeSuccess, []string{"DNAME\tnew.dn.test.", "CNAME\twww.new.dn.test."}, ""},
				{`old\000.dn.test.`, "A", edge, nil, `old\000.dn.test.`},
			} {
				label := c.name + " " + c.qtype
				r := s.query(t, c.name, dns.StringToType[c.qtype], true)
				if r.Rcode != c.rcode {
					t.Errorf("%s: rcode %s, want %s\n%s", label, dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode], r)
					continue
				}
				ans := sectionText(r.Answer)
				for _, want := range c.answer {
					if !strings.Contains(ans, want) {
						t.Errorf("%s: answer lacks %q:\n%s", label, want, ans)
					}
				}
				checkDNAMEDenial(t, label, c.name, r, c.target)
				// delv prints its verdict for the data, then the outcome at the end of the
				// chain: a validated negative answer there is "ncache nxdomain/nxrrset"; a
				// bogus one would be a broken chain or SERVFAIL.
				out, ok := resolvertest.Delv(t, s.Addr, anchors, c.name, c.qtype)
				if failed := delvFailure.FindString(out); !ok || (failed != "" && !strings.Contains(failed, "ncache")) {
					t.Errorf("delv %s not fully validated:\n%s", label, out)
				}
			}
		})
	}
}

// checkDNAMEDenial checks a response's NSEC and NSEC3 records: none is owned by (or, hashed,
// matches) qname when qname is below the DNAME owner old.dn.test., or any other name below it;
// and when the answer denies something, some record is about target (owned by it, matching
// or covering it).
func checkDNAMEDenial(t *testing.T, label, qname string, r *dns.Msg, target string) {
	t.Helper()
	below := func(name string) bool { return name != "old.dn.test." && dnsname.InZone(name, "old.dn.test.") }
	about := false
	for _, rr := range r.Ns {
		switch n := rr.(type) {
		case *dns.NSEC:
			owner := strings.ToLower(n.Hdr.Name)
			if below(owner) {
				t.Errorf("%s: NSEC owned by %s, below the DNAME owner", label, owner)
			}
			if target != "" && (owner == target || (dnsname.Compare(owner, target) < 0 && dnsname.Compare(target, n.NextDomain) < 0)) {
				about = true
			}
		case *dns.NSEC3:
			if below(qname) && n.Match(qname) {
				t.Errorf("%s: NSEC3 %s matches %s, below the DNAME owner", label, n.Hdr.Name, qname)
			}
			if target != "" && (n.Match(target) || n.Cover(target)) {
				about = true
			}
		}
	}
	if target != "" && !about {
		t.Errorf("%s: no NSEC or NSEC3 proves %s\n%s", label, target, r)
	}
}

// TestExtendedErrorsWithKdig checks the Extended DNS Errors (RFC 8914) as kdig shows them, and
// that a query without EDNS gets none: among them a secondary zone whose primary never answers
// and a zone whose file does not load (Not Ready, with the reason).
func TestExtendedErrorsWithKdig(t *testing.T) {
	resolvertest.RequireTool(t, "kdig")
	dir := t.TempDir()
	zone, broken := filepath.Join(dir, "dn.test.zone"), filepath.Join(dir, "broken.test.zone")
	if err := os.WriteFile(zone, []byte(dnParent), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte("@ 3600 IN SOA ns1 hostmaster 1 2 3 4 5\nwww A not-an-address\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadPrimary := fmt.Sprintf("127.0.0.1:%d", resolvertest.FreePort(t, "127.0.0.1"))
	s := startSignetConfig(t, func(string) string {
		return fmt.Sprintf("zones:\n  - {origin: dn.test., file: %s}\n  - {origin: broken.test., file: %s}\n  - {origin: waiting.test., primaries: [%q]}\n",
			zone, broken, deadPrimary)
	})
	host, port := splitAddr(t, s.Addr)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"www.example.org.", "A"}, "EDE: 20 (Not Authoritative)"},
		{[]string{"dn.test.", "TYPE128"}, "EDE: 30 "},
		{[]string{"dn.test.", "TKEY"}, "EDE: 21 (Not Supported)"},
		{[]string{"www.waiting.test.", "A"}, "EDE: 14 (Not Ready): 'secondary zone not transferred yet'"},
		{[]string{"www.broken.test.", "A"}, "EDE: 14 (Not Ready): 'zone failed to load'"},
	} {
		out := resolvertest.Kdig(t, append([]string{"@" + host, "-p", port, "+edns", "+norec"}, c.args...)...)
		if !strings.Contains(out, c.want) {
			t.Errorf("kdig %v: no %q in\n%s", c.args, c.want, out)
		}
		out = resolvertest.Kdig(t, append([]string{"@" + host, "-p", port, "+noedns", "+norec"}, c.args...)...)
		if strings.Contains(out, "EDE") {
			t.Errorf("kdig %v without EDNS: an EDE came back\n%s", c.args, out)
		}
	}
}

// TestSVCBAdditional checks with dig that HTTPS and SVCB answers carry the in-zone addresses of
// their targets (RFC 9460 §4.1), the owner's for TargetName "."; and, from a signed zone with
// DO, the RRSIGs of those addresses beside them (RFC 4035 §3.1.1).
func TestSVCBAdditional(t *testing.T) {
	resolvertest.RequireTool(t, "dig")
	host, port := startPlainDN(t)
	zone := filepath.Join(t.TempDir(), "dn.test.zone")
	if err := os.WriteFile(zone, []byte(dnParent), 0o644); err != nil {
		t.Fatal(err)
	}
	shost, sport := splitAddr(t, startSignet(t, "", "--dnssec", "--zone", "dn.test.="+zone).Addr)
	for _, c := range []struct {
		name, qtype string
		want        []string
		signed      bool
	}{
		{"svc.dn.test.", "HTTPS", []string{"svc.dn.test.\t\t3600\tIN\tA\t192.0.2.30", "svc.dn.test.\t\t3600\tIN\tAAAA\t2001:db8::30"}, false},
		{"_8443._foo.dn.test.", "SVCB", []string{"www.new.dn.test.\t3600\tIN\tA\t192.0.2.7"}, false},
		{"svc.dn.test.", "HTTPS", []string{"svc.dn.test.\t\t3600\tIN\tA\t192.0.2.30", "svc.dn.test.\t\t3600\tIN\tAAAA\t2001:db8::30",
			"svc.dn.test.\t\t3600\tIN\tRRSIG\tA 13 3 3600", "svc.dn.test.\t\t3600\tIN\tRRSIG\tAAAA 13 3 3600"}, true},
		{"_8443._foo.dn.test.", "SVCB", []string{"www.new.dn.test.\t3600\tIN\tA\t192.0.2.7", "www.new.dn.test.\t3600\tIN\tRRSIG\tA 13 4 3600"}, true},
	} {
		args := []string{"@" + host, "-p", port, "+norec", c.name, c.qtype}
		if c.signed {
			args = []string{"@" + shost, "-p", sport, "+norec", "+dnssec", c.name, c.qtype}
		}
		out := resolvertest.Dig(t, args...)
		add := out[strings.Index(out, ";; ADDITIONAL SECTION:")+1:]
		if !strings.Contains(out, ";; ADDITIONAL SECTION:") {
			t.Errorf("dig %s %s: no additional section\n%s", c.name, c.qtype, out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(add, w) {
				t.Errorf("dig %s %s: additional lacks %q\n%s", c.name, c.qtype, w, out)
			}
		}
	}
}

// startPlainDN serves dn.test. unsigned and returns the server's host and port.
func startPlainDN(t *testing.T) (host, port string) {
	t.Helper()
	zone := filepath.Join(t.TempDir(), "dn.test.zone")
	if err := os.WriteFile(zone, []byte(dnParent), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSignet(t, "", "--zone", "dn.test.="+zone)
	return splitAddr(t, s.Addr)
}

func splitAddr(t *testing.T, addr string) (host, port string) {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		t.Fatalf("bad address %q", addr)
	}
	return addr[:i], addr[i+1:]
}
