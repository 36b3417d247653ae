package zones

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// finding is a Problem and whether it stops Load. Load refuses what makes a zone unservable or
// ambiguous (no or several SOAs, data out of zone, CNAME beside other data, a class other than
// IN); Check reports those and also what breaks resolution without making answers ambiguous.
type finding struct {
	Problem
	fatal bool
	whole bool // depends on the whole zone (missing SOA, NS or glue), not on records read
}

// bset is an RRset being built, with the position of each record.
type bset struct {
	typ   uint16
	rrs   []dns.RR
	where []entry // parallel to rrs (entry.rr unused)
	keys  map[string]struct{}
}

// builder turns parsed records into a Zone.
type builder struct {
	origin   string
	file     string
	opt      Options
	nodes    map[string]*node
	sets     map[string][]*bset // per owner, in order of first appearance
	findings []finding
	dropped  int
	soaCount int
}

func (b *builder) report(fatal bool, severity, file string, line int, format string, args ...any) {
	b.findings = append(b.findings, finding{
		Problem: Problem{File: file, Line: line, Severity: severity, Msg: fmt.Sprintf(format, args...)},
		fatal:   fatal,
	})
}

// reportWhole records a finding that only holds once the whole zone has been read.
func (b *builder) reportWhole(fatal bool, severity, file string, line int, format string, args ...any) {
	b.report(fatal, severity, file, line, format, args...)
	b.findings[len(b.findings)-1].whole = true
}

// dnssecType reports whether a record is DNSSEC data that the online signer makes itself
// (RFC 4034/5155 denial and signatures anywhere; the apex key sets and their CDS/CDNSKEY
// children, RFC 7344) and so must not be served from the file.
func dnssecType(t uint16, apex bool) bool {
	switch t {
	case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM:
		return true
	case dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY:
		return apex
	}
	return false
}

// build checks and indexes entries. It returns a zone even when there are fatal findings (Check
// wants every finding); Load discards it then.
func build(entries []entry, origin, file string, opt Options) (*Zone, []finding) {
	b := &builder{
		origin: dns.CanonicalName(origin),
		file:   file,
		opt:    opt,
		nodes:  make(map[string]*node),
		sets:   make(map[string][]*bset),
	}
	for _, e := range entries {
		b.add(e)
	}
	z := b.finish()
	slices.SortStableFunc(b.findings, func(x, y finding) int {
		if c := strings.Compare(x.File, y.File); c != 0 {
			return c
		}
		return x.Line - y.Line
	})
	return z, b.findings
}

// add files one record under its owner and type.
func (b *builder) add(e entry) {
	h := e.rr.Header()
	owner := dns.CanonicalName(h.Name)
	h.Name = owner
	typ := dns.TypeToString[h.Rrtype]
	if typ == "" {
		typ = fmt.Sprintf("TYPE%d", h.Rrtype)
	}
	if !dns.IsSubDomain(b.origin, owner) {
		b.report(true, "error", e.file, e.line, "%s %s is out of zone %s", owner, typ, b.origin)
		return
	}
	if h.Class != dns.ClassINET {
		b.report(true, "error", e.file, e.line, "%s %s has class %s; only IN is served",
			owner, typ, dns.Class(h.Class))
		return
	}
	if dnssecType(h.Rrtype, owner == b.origin) {
		// The signer makes its own keys, signatures and denial records; stale ones copied from
		// a signed file would contradict them.
		b.dropped++
		return
	}
	if h.Rrtype == dns.TypeSOA {
		if owner != b.origin {
			b.report(true, "error", e.file, e.line, "SOA record at %s, not at the zone apex %s", owner, b.origin)
			return
		}
		b.soaCount++
		if b.soaCount > 1 {
			b.report(true, "error", e.file, e.line, "more than one SOA record at the zone apex")
			return
		}
	}
	if h.Ttl > MaxSignedTTL {
		b.report(false, "warning", e.file, e.line, "%s %s TTL %d will be capped to %d when signed",
			owner, typ, h.Ttl, MaxSignedTTL)
	}
	if b.opt.MaxTTL > 0 && h.Ttl > b.opt.MaxTTL {
		h.Ttl = b.opt.MaxTTL
	}

	// RFC 2181 §5: an RRset holds no duplicate records. The key is the presentation form of
	// the RDATA (the header, with its TTL, stripped).
	key := e.rr.String()[len(h.String()):]
	if key == "" {
		// The parser takes "name A" at the very end of a file as an RDATA-less (dynamic
		// update) record; served, it would be malformed.
		b.report(true, "error", e.file, e.line, "%s %s has no data", owner, typ)
		return
	}
	s := b.set(owner, h.Rrtype)
	if _, dup := s.keys[key]; dup {
		b.report(false, "warning", e.file, e.line, "duplicate record %s %s ignored", owner, typ)
		return
	}
	s.keys[key] = struct{}{}
	s.rrs = append(s.rrs, e.rr)
	s.where = append(s.where, entry{file: e.file, line: e.line})
}

func (b *builder) set(owner string, t uint16) *bset {
	for _, s := range b.sets[owner] {
		if s.typ == t {
			return s
		}
	}
	s := &bset{typ: t, keys: make(map[string]struct{})}
	b.sets[owner] = append(b.sets[owner], s)
	return s
}

// finish freezes the zone: nodes with their RRsets, empty non-terminals, cuts, occlusion,
// wildcards, additional-section data and canonical order.
func (b *builder) finish() *Zone {
	z := &Zone{origin: b.origin, nodes: b.nodes, dropped: b.dropped}
	for owner, sets := range b.sets {
		n := b.node(owner)
		n.ent = false
		slices.SortFunc(sets, func(x, y *bset) int { return int(x.typ) - int(y.typ) })
		for _, s := range sets {
			b.checkTTLs(owner, s)
			n.sets = append(n.sets, rrset{typ: s.typ, rrs: s.rrs[:len(s.rrs):len(s.rrs)]})
			n.types = append(n.types, s.typ)
			if len(s.rrs) > 0 {
				z.maxTTL = max(z.maxTTL, s.rrs[0].Header().Ttl)
			}
		}
		n.types = n.types[:len(n.types):len(n.types)]
		z.owners++
	}
	b.checkCNAMEs()
	b.checkDNAMEs()
	apex := b.nodes[b.origin]
	if apex == nil || apex.set(dns.TypeSOA) == nil {
		b.reportWhole(true, "error", b.file, 0, "no SOA record at the zone apex %s", b.origin)
	} else {
		z.soa = apex.set(dns.TypeSOA).rrs[0].(*dns.SOA)
		neg := dns.Copy(z.soa)
		// RFC 2308 §5 / RFC 9077: negative answers live min(SOA TTL, SOA MINIMUM).
		neg.Header().Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl)
		z.neg = []dns.RR{neg}
		z.neg = z.neg[:1:1]
		if apex.set(dns.TypeNS) == nil {
			b.reportWhole(false, "error", b.where(b.origin, dns.TypeSOA), b.line(b.origin, dns.TypeSOA),
				"no NS records at the zone apex %s", b.origin)
		}
	}
	b.markCuts()
	b.checkNS()
	for _, n := range b.nodes {
		if strings.HasPrefix(n.name, "*.") && n.name != b.origin {
			off, _ := dns.NextLabel(n.name, 0)
			b.nodes[n.name[off:]].wild = n
		}
		for i := range n.sets {
			n.sets[i].extra = b.additional(&n.sets[i])
		}
	}
	for _, n := range b.nodes {
		if n.cut && !n.occluded {
			b.referral(n)
		}
	}
	z.order(b.origin)
	return z
}

// node returns the node for name, creating it and its missing ancestors (as empty
// non-terminals) down from the apex.
func (b *builder) node(name string) *node {
	if n := b.nodes[name]; n != nil {
		return n
	}
	n := &node{name: name, ent: true}
	b.nodes[name] = n
	if name != b.origin {
		off, _ := dns.NextLabel(name, 0)
		b.node(name[off:])
	}
	return n
}

// where and line give the position of the first record of an RRset.
func (b *builder) where(owner string, t uint16) string {
	for _, s := range b.sets[owner] {
		if s.typ == t && len(s.where) > 0 {
			return s.where[0].file
		}
	}
	return b.file
}

func (b *builder) line(owner string, t uint16) int {
	for _, s := range b.sets[owner] {
		if s.typ == t && len(s.where) > 0 {
			return s.where[0].line
		}
	}
	return 0
}

// checkTTLs warns about an RRset whose records differ in TTL and serves them all with the
// lowest one: RFC 2181 §5.2 deprecates the mix, and an RRSIG covers one Original TTL.
func (b *builder) checkTTLs(owner string, s *bset) {
	lo := s.rrs[0].Header().Ttl
	mixed := false
	for _, rr := range s.rrs[1:] {
		if t := rr.Header().Ttl; t != lo {
			mixed = true
			lo = min(lo, t)
		}
	}
	if !mixed {
		return
	}
	b.report(false, "warning", s.where[0].file, s.where[0].line,
		"RRset %s %s has records with different TTLs (RFC 2181 §5.2); serving all with TTL %d",
		owner, dns.Type(s.typ), lo)
	for _, rr := range s.rrs {
		rr.Header().Ttl = lo
	}
}

// checkCNAMEs enforces RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME is alone at its name (the
// DNSSEC records that could lawfully sit beside it were dropped at load) and single.
func (b *builder) checkCNAMEs() {
	for owner, n := range b.nodes {
		c := n.set(dns.TypeCNAME)
		if c == nil {
			continue
		}
		file, line := b.where(owner, dns.TypeCNAME), b.line(owner, dns.TypeCNAME)
		if len(c.rrs) > 1 {
			b.report(true, "error", file, line, "%s has more than one CNAME record", owner)
		}
		if len(n.sets) > 1 {
			b.report(true, "error", file, line, "%s has a CNAME and other data", owner)
		}
		n.cname = dns.CanonicalName(c.rrs[0].(*dns.CNAME).Target)
	}
}

// checkDNAMEs enforces RFC 6672 §2.4: one DNAME per owner (a CNAME beside it is caught by
// checkCNAMEs), and records the target that lookups substitute.
func (b *builder) checkDNAMEs() {
	for owner, n := range b.nodes {
		d := n.set(dns.TypeDNAME)
		if d == nil {
			continue
		}
		if len(d.rrs) > 1 {
			b.report(true, "error", b.where(owner, dns.TypeDNAME), b.line(owner, dns.TypeDNAME),
				"%s has more than one DNAME record", owner)
		}
		n.dname = dns.CanonicalName(d.rrs[0].(*dns.DNAME).Target)
	}
}

// markCuts finds the delegation points (NS records below the apex; a wildcard owner is not a
// delegation, RFC 4592 §4.2) and marks what lies below them, or below a DNAME, as occluded:
// glue or stale data that is not authoritative here, and names that a DNAME redirects
// (RFC 6672 §2.3), whose data is never served.
func (b *builder) markCuts() {
	for owner, n := range b.nodes {
		if owner != b.origin && n.set(dns.TypeNS) != nil && !strings.HasPrefix(owner, "*.") {
			n.cut = true
		}
	}
	for owner, n := range b.nodes {
		if b.hiderAbove(owner) != nil {
			n.occluded = true
		}
	}
	for owner, n := range b.nodes {
		if n.occluded && !n.ent {
			b.warnOccluded(owner, n, b.hiderAbove(owner))
		}
	}
}

// warnOccluded warns about the data at owner that the cut or DNAME at h hides. Addresses
// below a cut are glue, which is expected; below a DNAME nothing is ever served.
func (b *builder) warnOccluded(owner string, n, h *node) {
	for _, s := range n.sets {
		file, line := b.where(owner, s.typ), b.line(owner, s.typ)
		switch {
		case h.cut && (s.typ == dns.TypeA || s.typ == dns.TypeAAAA):
		case h.cut:
			b.report(false, "warning", file, line,
				"%s %s is below the zone cut at %s and is never served", owner, dns.Type(s.typ), h.name)
		default:
			b.report(false, "warning", file, line,
				"%s %s is below the DNAME at %s and is never served (RFC 6672 §2.3)", owner, dns.Type(s.typ), h.name)
		}
	}
}

// hiderAbove returns the highest node strictly above name that is a zone cut or owns a DNAME,
// or nil: everything below it is occluded.
func (b *builder) hiderAbove(name string) *node {
	var h *node
	for off, end := dns.NextLabel(name, 0); !end && len(name)-off >= len(b.origin); off, end = dns.NextLabel(name, off) {
		if n := b.nodes[name[off:]]; n != nil && (n.cut || n.dname != "") {
			h = n
		}
	}
	return h
}

// cutAbove returns the highest zone cut strictly above name, or nil.
func (b *builder) cutAbove(name string) *node {
	var cut *node
	for off, end := dns.NextLabel(name, 0); !end && len(name)-off > len(b.origin); off, end = dns.NextLabel(name, off) {
		if n := b.nodes[name[off:]]; n != nil && n.cut {
			cut = n
		}
	}
	return cut
}

// cutAtOrAbove returns the highest zone cut at or above name, or nil.
func (b *builder) cutAtOrAbove(name string) *node {
	if c := b.cutAbove(name); c != nil {
		return c
	}
	if n := b.nodes[name]; n != nil && n.cut {
		return n
	}
	return nil
}

// checkNS looks at the targets of every served NS RRset: a target at or below a zone cut
// can only be reached through glue (an error without it, as named-checkzone says); another
// in-zone target should exist and have addresses.
func (b *builder) checkNS() {
	for owner, n := range b.nodes {
		s := n.set(dns.TypeNS)
		if s == nil || n.occluded || (owner != b.origin && !n.cut) {
			continue
		}
		file, line := b.where(owner, dns.TypeNS), b.line(owner, dns.TypeNS)
		for _, rr := range s.rrs {
			t := dns.CanonicalName(rr.(*dns.NS).Ns)
			if !dns.IsSubDomain(b.origin, t) {
				continue
			}
			tn := b.nodes[t]
			hasAddr := tn != nil && (tn.set(dns.TypeA) != nil || tn.set(dns.TypeAAAA) != nil)
			switch cut := b.cutAtOrAbove(t); {
			case hasAddr:
			case cut != nil:
				b.reportWhole(false, "error", file, line,
					"NS %s of %s is at or below the zone cut %s and has no glue A/AAAA record", t, owner, cut.name)
			case tn == nil || tn.ent:
				b.reportWhole(false, "warning", file, line, "NS %s of %s does not exist in the zone", t, owner)
			default:
				b.reportWhole(false, "warning", file, line, "NS %s of %s has no A or AAAA record", t, owner)
			}
		}
	}
}

// addresses returns the A and AAAA records of an in-zone name: authoritative ones, or any
// (glue below a cut included) when glue is true.
func (b *builder) addresses(name string, glue bool) []dns.RR {
	n := b.nodes[dns.CanonicalName(name)]
	if n == nil || (n.occluded && !glue) {
		return nil
	}
	var out []dns.RR
	for _, t := range [...]uint16{dns.TypeA, dns.TypeAAAA} {
		if s := n.set(t); s != nil {
			out = append(out, s.rrs...)
		}
	}
	return out
}

// additional computes the additional-section data of an RRset (RFC 1035 §3.3.9, §3.3.11,
// RFC 2782, RFC 9460 §4.1): addresses of the NS, MX, SRV, SVCB and HTTPS targets found in the
// zone. NS targets may use glue; the other targets below a cut are not authoritative and are
// left out.
func (b *builder) additional(s *rrset) []dns.RR {
	var out []dns.RR
	seen := map[string]bool{}
	for _, rr := range s.rrs {
		var target string
		glue := false
		switch rr := rr.(type) {
		case *dns.NS:
			target, glue = rr.Ns, true
		case *dns.MX:
			target = rr.Mx
		case *dns.SRV:
			target = rr.Target
		case *dns.SVCB:
			target = svcbTarget(&rr.Hdr, rr.Priority, rr.Target)
		case *dns.HTTPS:
			target = svcbTarget(&rr.Hdr, rr.Priority, rr.Target)
		default:
			return nil
		}
		if target == "" {
			continue
		}
		target = dns.CanonicalName(target)
		if seen[target] || !dns.IsSubDomain(b.origin, target) {
			continue
		}
		seen[target] = true
		out = append(out, b.addresses(target, glue)...)
	}
	return out[:len(out):len(out)]
}

// svcbTarget is the name whose addresses serve an SVCB or HTTPS record (RFC 9460 §2.5): its
// TargetName, or the owner itself when that is "." in ServiceMode. "." in AliasMode (priority
// 0) says the service does not exist: no addresses.
func svcbTarget(h *dns.RR_Header, priority uint16, target string) string {
	if target != "." {
		return target
	}
	if priority == 0 {
		return ""
	}
	return h.Name
}

// referral precomputes the authority and additional sections of a referral at cut n.
func (b *builder) referral(n *node) {
	ns := n.set(dns.TypeNS)
	n.refNs = slices.Clone(ns.rrs)
	if ds := n.set(dns.TypeDS); ds != nil {
		n.ds = ds.rrs
		n.refNs = append(n.refNs, ds.rrs...)
	}
	n.refNs = n.refNs[:len(n.refNs):len(n.refNs)]
	n.glue = ns.extra
}
