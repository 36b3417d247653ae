package signer

import (
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

// query is one lookup outcome as the server hands it to Sign.
type query struct {
	name   string
	qname  string
	qtype  uint16
	kind   Kind
	answer []string
	ns     []string
	extra  []string
	rcode  int
	in     func(*Input) // sets the lookup-specific Input fields
}

func (q query) build(t *testing.T, mode Mode, do bool) (*dns.Msg, *Input) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(q.qname, q.qtype)
	m.Response, m.Authoritative, m.Rcode = true, true, q.rcode
	m.Answer, m.Ns, m.Extra = rrs(t, q.answer...), rrs(t, q.ns...), rrs(t, q.extra...)
	in := &Input{Zone: zone, Mode: mode, Kind: q.kind, QName: q.qname, QType: q.qtype, Name: q.qname,
		SOA: testSOA(t), DO: do, Names: names}
	if q.in != nil {
		q.in(in)
	}
	return m, in
}

const soaNeg = "example. 300 IN SOA ns.example. host.example. 1 7200 3600 1209600 300"

var (
	qAnswer = query{name: "answer", qname: "a.example.", qtype: dns.TypeA, kind: Answer,
		answer: []string{"a.example. 600 IN A 192.0.2.1", "a.example. 600 IN A 192.0.2.2"}}
	qCNAME = query{name: "cname chain", qname: "x.a.example.", qtype: dns.TypeA, kind: Answer,
		answer: []string{"x.a.example. 60 IN CNAME a.example.", "a.example. 600 IN A 192.0.2.1"},
		in:     func(in *Input) { in.Name = "a.example." }}
	qNoData = query{name: "nodata", qname: "a.example.", qtype: dns.TypeMX, kind: NoData, ns: []string{soaNeg},
		in: func(in *Input) { in.Types = []uint16{dns.TypeA} }}
	qApexNoData = query{name: "apex nodata", qname: "example.", qtype: dns.TypeTXT, kind: NoData, ns: []string{soaNeg},
		in: func(in *Input) { in.Types = []uint16{dns.TypeNS, dns.TypeSOA, dns.TypeMX} }}
	qENT = query{name: "empty non-terminal", qname: "b.example.", qtype: dns.TypeA, kind: NoData, ns: []string{soaNeg},
		in: func(in *Input) { in.ENT = true }}
	qNX = query{name: "nxdomain", qname: "nx.example.", qtype: dns.TypeA, kind: NXDomain, ns: []string{soaNeg},
		rcode: dns.RcodeNameError, in: func(in *Input) { in.ClosestEncloser = zone }}
	qNXDeep = query{name: "nxdomain deep", qname: "x.y.c.b.example.", qtype: dns.TypeA, kind: NXDomain, ns: []string{soaNeg},
		rcode: dns.RcodeNameError, in: func(in *Input) { in.ClosestEncloser = "c.b.example." }}
	qSecureRef = query{name: "referral with DS", qname: "www.sub.example.", qtype: dns.TypeA, kind: Referral,
		ns: []string{"sub.example. 3600 IN NS ns.sub.example.",
			"sub.example. 3600 IN DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		extra: []string{"ns.sub.example. 3600 IN A 192.0.2.53"},
		in: func(in *Input) {
			in.Cut, in.HasDS, in.Types = "sub.example.", true, []uint16{dns.TypeNS, dns.TypeDS}
		}}
	qInsecureRef = query{name: "referral without DS", qname: "www.insecure.example.", qtype: dns.TypeA, kind: Referral,
		ns:    []string{"insecure.example. 3600 IN NS ns.insecure.example."},
		extra: []string{"ns.insecure.example. 3600 IN A 192.0.2.54"},
		in:    func(in *Input) { in.Cut, in.Types = "insecure.example.", []uint16{dns.TypeNS} }}
	qWildcard = query{name: "wildcard answer", qname: "q.w.example.", qtype: dns.TypeA, kind: Answer,
		answer: []string{"q.w.example. 600 IN A 192.0.2.9"},
		in: func(in *Input) {
			in.ClosestEncloser = "w.example."
			in.Synth = []Synth{{Name: "q.w.example.", Wildcard: "*.w.example."}}
		}}
	qDNAME = query{name: "dname answer", qname: "www.d.example.", qtype: dns.TypeA, kind: Answer,
		answer: []string{"d.example. 600 IN DNAME n.example.", "www.d.example. 600 IN CNAME www.n.example.",
			"www.n.example. 600 IN A 192.0.2.7"},
		in: func(in *Input) { in.Name = "www.n.example." }}
	qDNAMENX = query{name: "dname nxdomain", qname: "x.d.example.", qtype: dns.TypeA, kind: NXDomain,
		answer: []string{"d.example. 600 IN DNAME n.example.", "x.d.example. 600 IN CNAME x.n.example."},
		ns:     []string{soaNeg}, rcode: dns.RcodeNameError,
		in: func(in *Input) { in.Name, in.ClosestEncloser = "x.n.example.", zone }}
	qWildcardNoData = query{name: "wildcard nodata", qname: "q.w.example.", qtype: dns.TypeMX, kind: NoData, ns: []string{soaNeg},
		in: func(in *Input) {
			in.ClosestEncloser, in.Types = "w.example.", []uint16{dns.TypeA}
			in.Synth = []Synth{{Name: "q.w.example.", Wildcard: "*.w.example."}}
		}}
)

// wantRcode is what each mode answers a lookup's rcode with.
func wantRcode(q query, mode Mode, co bool) int {
	if q.kind == NXDomain && (mode == BlackLies || (mode == Compact && !co)) {
		return dns.RcodeSuccess
	}
	return q.rcode
}

func TestSignKindsAndModes(t *testing.T) {
	ring := testRing(t, RingOptions{})
	queries := []query{qAnswer, qCNAME, qNoData, qApexNoData, qENT, qNX, qNXDeep, qSecureRef, qInsecureRef, qWildcard, qWildcardNoData,
		qDNAME, qDNAMENX}
	for _, mode := range []Mode{Compact, BlackLies, WhiteLies} {
		for _, q := range queries {
			t.Run(modeName(mode)+"/"+q.name, func(t *testing.T) {
				s := New(Config{})
				m, in := q.build(t, mode, true)
				snap := takeSnapshot(m)
				if err := s.Sign(m, in, ring, t0); err != nil {
					t.Fatal(err)
				}
				snap.check(t)
				if m.Rcode != wantRcode(q, mode, false) {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[wantRcode(q, mode, false)])
				}
				sigs := verifyAll(t, m, ring, t0, in)
				if countType(m.Extra, dns.TypeRRSIG) != 0 {
					t.Error("glue signed")
				}
				checkDenial(t, q, mode, m, in)
				checkWildcardLabels(t, q, mode, sigs)
			})
		}
	}
}

func modeName(m Mode) string {
	return map[Mode]string{Compact: "compact", BlackLies: "blacklies", WhiteLies: "whitelies"}[m]
}

// checkDenial checks the NSECs each mode must produce.
func checkDenial(t *testing.T, q query, mode Mode, m *dns.Msg, in *Input) {
	t.Helper()
	got := nsecs(m.Ns)
	for _, n := range got {
		if n.Hdr.Ttl != 300 {
			t.Errorf("NSEC TTL %d, want min(SOA TTL, MINIMUM) = 300", n.Hdr.Ttl)
		}
		if !slices.IsSorted(n.TypeBitMap) || len(slices.Compact(slices.Clone(n.TypeBitMap))) != len(n.TypeBitMap) {
			t.Errorf("bitmap not sorted/unique: %v", n.TypeBitMap)
		}
	}
	bm := func(types ...uint16) []uint16 { return types }
	exact := func(owner, next string, types []uint16) {
		t.Helper()
		for _, n := range got {
			if n.Hdr.Name == owner {
				if n.NextDomain != next || !slices.Equal(n.TypeBitMap, types) {
					t.Errorf("NSEC %s: next %s bitmap %v, want next %s bitmap %v", owner, n.NextDomain, n.TypeBitMap, next, types)
				}
				return
			}
		}
		t.Errorf("no NSEC owned by %s in %v", owner, got)
	}
	switch q.name {
	case "answer", "cname chain", "referral with DS", "dname answer":
		if len(got) != 0 {
			t.Errorf("unexpected NSEC %v", got)
		}
	case "nodata":
		exact("a.example.", `\000.a.example.`, bm(dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC))
	case "apex nodata":
		exact("example.", `\000.example.`, bm(dns.TypeNS, dns.TypeSOA, dns.TypeMX, dns.TypeRRSIG, dns.TypeNSEC, dns.TypeDNSKEY))
	case "empty non-terminal":
		exact("b.example.", `\000.b.example.`, bm(dns.TypeRRSIG, dns.TypeNSEC))
	case "referral without DS":
		exact("insecure.example.", `\000.insecure.example.`, bm(dns.TypeNS, dns.TypeRRSIG, dns.TypeNSEC))
	case "nxdomain", "nxdomain deep", "dname nxdomain":
		// The denial is about the last name of the chain: the DNAME target's, never a name
		// below the DNAME owner.
		switch mode {
		case Compact:
			exact(in.Name, `\000.`+in.Name, bm(dns.TypeRRSIG, dns.TypeNSEC, TypeNXNAME))
		case BlackLies:
			exact(in.Name, `\000.`+in.Name, bm(dns.TypeRRSIG, dns.TypeNSEC))
		case WhiteLies:
			if len(got) != 2 {
				t.Fatalf("%d NSECs, want 2 (name and wildcard): %v", len(got), got)
			}
			checkCovers(t, got, in.Name, in.ClosestEncloser)
			checkCovers(t, got, "*."+in.ClosestEncloser, in.ClosestEncloser)
		}
	case "wildcard answer":
		if mode != WhiteLies {
			if len(got) != 0 {
				t.Errorf("unexpected NSEC %v", got)
			}
			return
		}
		if len(got) != 1 {
			t.Fatalf("%d NSECs, want 1: %v", len(got), got)
		}
		checkCovers(t, got, q.qname, "w.example.")
	case "wildcard nodata":
		if mode != WhiteLies {
			exact(q.qname, `\000.`+q.qname, bm(dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC))
			return
		}
		if len(got) != 2 {
			t.Fatalf("%d NSECs, want 2: %v", len(got), got)
		}
		checkCovers(t, got, q.qname, "w.example.")
		exact("*.w.example.", `\000.*.w.example.`, bm(dns.TypeA, dns.TypeRRSIG, dns.TypeNSEC))
	default:
		t.Fatalf("no denial expectation for %s", q.name)
	}
}

// checkCovers checks, the way a validator does (RFC 4035 §5.4; unbound's
// val_nsec_proves_name_error and nsec_closest_encloser), that one NSEC in got covers name,
// that no existing zone name lies in its range, and that the closest encloser it implies is ce.
func checkCovers(t *testing.T, got []*dns.NSEC, name, ce string) {
	t.Helper()
	for _, n := range got {
		owner, next := n.Hdr.Name, n.NextDomain
		if !(dnsname.Compare(owner, name) < 0 && dnsname.Compare(name, next) < 0) {
			continue
		}
		for _, existing := range names {
			if dnsname.Compare(owner, existing) <= 0 && dnsname.Compare(existing, next) <= 0 {
				t.Errorf("NSEC %s -> %s covers the existing name %s", owner, next, existing)
			}
		}
		if c := deeper(sharedAncestor(owner, name), sharedAncestor(next, name)); c != ce {
			t.Errorf("NSEC %s -> %s implies closest encloser %s for %s, want %s", owner, next, c, name, ce)
		}
		if !slices.Equal(n.TypeBitMap, []uint16{dns.TypeRRSIG, dns.TypeNSEC}) {
			t.Errorf("covering NSEC bitmap %v", n.TypeBitMap)
		}
		return
	}
	t.Errorf("no NSEC covers %s: %v", name, got)
}

func sharedAncestor(a, b string) string {
	n := dns.CompareDomainName(a, b)
	if n == 0 {
		return "."
	}
	idx := dns.Split(a)
	return dns.CanonicalName(a[idx[len(idx)-n]:])
}

func deeper(a, b string) string {
	if dns.CountLabel(a) >= dns.CountLabel(b) {
		return a
	}
	return b
}

// checkWildcardLabels checks the RRSIG Labels field of wildcard expansions per mode.
func checkWildcardLabels(t *testing.T, q query, mode Mode, sigs map[string][]*dns.RRSIG) {
	t.Helper()
	if q.name != "wildcard answer" {
		return
	}
	want := uint8(3) // q.w.example: signed as the query name
	if mode == WhiteLies {
		want = 2 // *.w.example minus the "*" (RFC 4034 §3.1.3)
	}
	for _, sig := range sigs["q.w.example./A"] {
		if sig.Labels != want || sig.Hdr.Name != "q.w.example." {
			t.Errorf("wildcard RRSIG owner %s labels %d, want q.w.example. and %d", sig.Hdr.Name, sig.Labels, want)
		}
	}
}

func TestCompactOKKeepsNXDOMAIN(t *testing.T) {
	ring := testRing(t, RingOptions{})
	m, in := qNX.build(t, Compact, true)
	in.CompactOK = true
	if err := New(Config{}).Sign(m, in, ring, t0); err != nil {
		t.Fatal(err)
	}
	if m.Rcode != dns.RcodeNameError {
		t.Errorf("rcode %s, want NXDOMAIN with CO", dns.RcodeToString[m.Rcode])
	}
	verifyAll(t, m, ring, t0, in)
	if n := nsecs(m.Ns); len(n) != 1 || !slices.Contains(n[0].TypeBitMap, TypeNXNAME) {
		t.Errorf("want one NSEC with NXNAME, got %v", n)
	}
}

func TestNoDOAddsNothing(t *testing.T) {
	ring := testRing(t, RingOptions{})
	for _, mode := range []Mode{Compact, BlackLies, WhiteLies} {
		for _, q := range []query{qAnswer, qNoData, qNX, qInsecureRef, qWildcard} {
			t.Run(modeName(mode)+"/"+q.name, func(t *testing.T) {
				s := New(Config{})
				m, in := q.build(t, mode, false)
				before := m.Copy()
				if err := s.Sign(m, in, ring, t0); err != nil {
					t.Fatal(err)
				}
				if m.String() != before.String() {
					t.Errorf("message changed without DO:\n%s\nwas\n%s", m, before)
				}
				if st := s.Stats(); len(st.Signatures) != 0 {
					t.Errorf("signatures made without DO: %v", st.Signatures)
				}
			})
		}
	}
}
