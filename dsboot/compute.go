package dsboot

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

// Zones is the set of served zones. *zones.Store implements it.
type Zones interface {
	// All returns every served zone (placeholders of zones without data included).
	All() []*zones.Zone
	// Match returns the deepest served zone holding the lowercased name, or nil.
	Match(name string) *zones.Zone
	// Generation changes whenever a zone is added or replaced.
	Generation() uint64
}

// Keys reports how zones are signed. The key manager implements it.
type Keys interface {
	// Signing returns the zone's key ring; ok is false when the zone is not signed.
	Signing(zone string) (ring *signer.KeyRing, mode signer.Mode, ok bool)
	// Generation changes whenever a zone's ring changes.
	Generation() uint64
}

// Label is the signalling type of DS bootstrapping (RFC 9615 §3.2), and Domain the label that
// makes a name server hostname a signalling domain (RFC 9615 §1.1).
const (
	Label  = "_dsboot"
	Domain = "_signal"
)

// Name returns the signalling name of child under the name server host,
// _dsboot.<child>._signal.<host> (RFC 9615 §3.2), lowercased; ok is false when it would not be a
// valid domain name (over 255 octets: RFC 9615 §4.4 leaves such zones out).
func Name(child, host string) (string, bool) {
	child, host = dns.CanonicalName(child), dns.CanonicalName(host)
	if child == "." {
		return "", false
	}
	name := Label + "." + child + Domain + "." + host
	if host == "." {
		name = Label + "." + child + Domain + "."
	}
	if _, ok := dns.IsDomainName(name); !ok || len(name)+1 > 255 {
		return "", false
	}
	return name, true
}

// Signal is one signalling name published: child's CDS/CDNSKEY copied under the name server
// Host, at Name, in the zone Zone.
type Signal struct {
	Child, Host, Name, Zone string
}

// Gap is a name server of a child publishing CDS/CDNSKEY under which no signal can be
// published here, and why; Host is empty when the reason concerns the child as a whole. A parent
// that follows RFC 9615 §4.2 needs a validated signal under every name server outside the
// child, so a gap stops the bootstrapping unless another operator publishes that signal.
type Gap struct {
	Child, Host, Reason string
}

func (g Gap) String() string {
	if g.Host == "" {
		return fmt.Sprintf("%s: %s", g.Child, g.Reason)
	}
	return fmt.Sprintf("%s under %s: %s", g.Child, g.Host, g.Reason)
}

// Plan is what to publish: the signalling records by the origin of the zone that holds them,
// the signals they make, and the gaps.
type Plan struct {
	Records map[string][]dns.RR
	Signals []Signal
	Gaps    []Gap
}

// Compute works out the signalling records for the zones served now. A child takes part when it
// is signed and its ring publishes a CDS or CDNSKEY RRset (the delete sentinels of RFC 8078 §4
// included: the signal must equal what the apex shows, RFC 9615 §4.1); the copies keep the
// apex records' TTL. Its name servers are those of nameServers; the ones inside the child are
// left out, as RFC 9615 §4.1 allows: a parent cannot validate them before the child is secure.
// A signal is published only in a signed zone, never at or below one of its zone cuts (RFC
// 9615 §4.1: no cut at a signalling name) nor beside a CNAME, and the other cases are
// reported as gaps.
func Compute(zs Zones, keys Keys) Plan {
	p := Plan{Records: map[string][]dns.RR{}}
	for _, z := range zs.All() {
		if !z.Available() {
			continue
		}
		child := z.Origin()
		ring, _, ok := keys.Signing(child)
		if !ok || ring == nil {
			continue
		}
		cds, cdnskey := ring.CDS(), ring.CDNSKEY()
		if len(cds) == 0 && len(cdnskey) == 0 {
			continue
		}
		hosts := nameServers(zs, z)
		outside := 0
		for _, host := range hosts {
			if dns.IsSubDomain(child, host) {
				continue
			}
			outside++
			sig, reason := place(zs, keys, child, host)
			if reason != "" {
				p.Gaps = append(p.Gaps, Gap{Child: child, Host: host, Reason: reason})
				continue
			}
			p.Signals = append(p.Signals, sig)
			p.Records[sig.Zone] = append(p.Records[sig.Zone], copies(sig.Name, cds, cdnskey)...)
		}
		if outside == 0 {
			p.Gaps = append(p.Gaps, Gap{Child: child,
				Reason: "every name server is inside the zone, so no parent can bootstrap it (RFC 9615 §4.4)"})
		}
	}
	return p
}

// nameServers returns the child's name server hostnames, lowercased, without repeats: the
// targets of its apex NS RRset and, when its parent is served here too, of the delegation's
// NS RRset, which is the one a parent's agent reads (RFC 9615 §4.2); the two differ while an
// NS change is under way.
func nameServers(zs Zones, z *zones.Zone) []string {
	var out []string
	add := func(rrs []dns.RR) {
		for _, rr := range rrs {
			ns, ok := rr.(*dns.NS)
			if !ok || dns.CanonicalName(ns.Hdr.Name) != z.Origin() {
				continue
			}
			if host := dns.CanonicalName(ns.Ns); !slices.Contains(out, host) {
				out = append(out, host)
			}
		}
	}
	add(z.Lookup(z.Origin(), dns.TypeNS).Answer)
	if off, end := dns.NextLabel(z.Origin(), 0); !end {
		if p := zs.Match(z.Origin()[off:]); p != nil && p.Available() {
			if r := p.Lookup(z.Origin(), dns.TypeNS); r.Kind == zones.Referral {
				add(r.Ns)
			}
		}
	}
	return out
}

// place finds where the signal of child under host goes, or says why it cannot be published.
func place(zs Zones, keys Keys, child, host string) (Signal, string) {
	name, ok := Name(child, host)
	if !ok {
		return Signal{}, "the signalling name would be longer than 255 octets (RFC 9615 §4.4)"
	}
	sz := zs.Match(name)
	if sz == nil {
		return Signal{}, "no zone served here holds " + host
	}
	origin := sz.Origin()
	if !sz.Available() {
		return Signal{}, "zone " + origin + " has no data loaded"
	}
	if _, _, ok := keys.Signing(origin); !ok {
		return Signal{}, "zone " + origin + " is not signed, and a signal must validate (RFC 9615 §3.1)"
	}
	r := sz.Lookup(name, dns.TypeCDS)
	if r.Kind == zones.Referral || origin == name {
		return Signal{}, "the signalling name is at or below a zone cut in " + origin + " (RFC 9615 §4.1)"
	}
	if len(r.Synth) == 0 && slices.ContainsFunc(r.Answer, func(rr dns.RR) bool {
		return rr.Header().Rrtype == dns.TypeCNAME && rr.Header().Name == name
	}) {
		return Signal{}, "the signalling name owns a CNAME in " + origin + ", which admits no other data"
	}
	return Signal{Child: child, Host: host, Name: name, Zone: origin}, ""
}

// copies returns the CDS and CDNSKEY records re-owned by name.
func copies(name string, sets ...[]dns.RR) []dns.RR {
	var out []dns.RR
	for _, set := range sets {
		for _, rr := range set {
			c := dns.Copy(rr)
			c.Header().Name = name
			out = append(out, c)
		}
	}
	return out
}

// fingerprint is a stable text of records, to tell whether a zone's signals changed.
func fingerprint(rrs []dns.RR) string {
	lines := make([]string, len(rrs))
	for i, rr := range rrs {
		lines[i] = rr.String()
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
