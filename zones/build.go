package zones

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

// finding is a Problem and whether it stops Load. Load refuses what makes a zone unservable or
// ambiguous (no or several SOAs, data out of zone, CNAME beside other data, a class other than
// IN); Check reports those and also what breaks resolution without making answers ambiguous.
type finding struct {
	Problem
	fatal bool
	whole bool // depends on the whole zone (missing SOA, NS or glue), not on records read
}

// setPos is where the first record of an RRset being built came from, and whether its
// records differ in TTL.
type setPos struct {
	line  int32
	file  uint32 // index in builder.files
	mixed bool
}

// builder turns parsed records into a Zone. Records are packed as they arrive, so the parsed
// structs are garbage at once and a big zone never exists twice in memory.
type builder struct {
	origin   string
	file     string
	opt      Options
	nodes    map[string]*node
	wire     []byte
	scratch  []byte
	pos      []setPos                       // per RRset (rrset.id)
	files    []string                       // the files records came from (setPos.file)
	dups     map[uint32]map[string]struct{} // RDATA seen, for RRsets too big to scan
	byID     []uint32                       // index in pos of each Zone.sets entry
	z        *Zone                          // the zone, once finish has packed it
	findings []finding
	dropped  int
	soaCount int
}

// dupScan is the RRset size up to which duplicates are found by scanning the RRset.
const dupScan = 32

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

// source feeds parsed records to emit, in file order; its error ends the build.
type source func(emit func(entry)) error

// build checks and indexes the records of src. It returns a zone even when there are fatal
// findings (Check wants every finding); Load discards it then. src runs on its own goroutine
// while the records it has handed over are packed and indexed: parsing and building overlap.
// err is src's error; the records before it have been built.
func build(src source, origin, file string, opt Options) (z *Zone, findings []finding, err error) {
	b := &builder{
		origin:  dns.CanonicalName(origin),
		file:    file,
		opt:     opt,
		nodes:   make(map[string]*node),
		scratch: make([]byte, 4096),
	}
	const batch = 512
	batches := make(chan []entry, 8)
	go func() {
		defer close(batches)
		cur := make([]entry, 0, batch)
		err = src(func(e entry) {
			cur = append(cur, e)
			if len(cur) == batch {
				batches <- cur
				cur = make([]entry, 0, batch)
			}
		})
		if len(cur) > 0 {
			batches <- cur
		}
	}()
	for es := range batches {
		for _, e := range es {
			b.add(e)
		}
	}
	// err was set before batches closed.
	z = b.finish()
	slices.SortStableFunc(b.findings, func(x, y finding) int {
		if c := strings.Compare(x.File, y.File); c != 0 {
			return c
		}
		return x.Line - y.Line
	})
	return z, b.findings, err
}

// add files one record under its owner and type.
func (b *builder) add(e entry) {
	h := e.rr.Header()
	owner := dns.CanonicalName(h.Name)
	typ := dns.TypeToString[h.Rrtype]
	if typ == "" {
		typ = fmt.Sprintf("TYPE%d", h.Rrtype)
	}
	if !dnsname.InZone(owner, b.origin) {
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
		if soa, ok := e.rr.(*dns.SOA); ok && b.opt.MinSerial != 0 && serialBefore(soa.Serial, b.opt.MinSerial) {
			raised := dns.Copy(soa).(*dns.SOA)
			raised.Serial = b.opt.MinSerial
			e.rr = raised
		}
	}
	ttl := h.Ttl
	if ttl > MaxSignedTTL {
		b.report(false, "warning", e.file, e.line, "%s %s TTL %d will be capped to %d when signed",
			owner, typ, ttl, MaxSignedTTL)
	}
	if b.opt.MaxTTL > 0 && ttl > b.opt.MaxTTL {
		ttl = b.opt.MaxTTL
	}

	at := len(b.wire)
	var err error
	b.wire, b.scratch, err = packRdata(b.wire, e.rr, b.scratch)
	if err != nil {
		b.wire = b.wire[:at]
		b.report(true, "error", e.file, e.line, "%s %s cannot be encoded: %v", owner, typ, err)
		return
	}
	rec := b.wire[at:]
	if len(rec) == 2 && e.rr.String() == h.String() {
		// The parser takes "name A" at the very end of a file as an RDATA-less (dynamic
		// update) record; served, it would be malformed.
		b.wire = b.wire[:at]
		b.report(true, "error", e.file, e.line, "%s %s has no data", owner, typ)
		return
	}
	if len(b.wire) > maxWire {
		b.wire = b.wire[:at]
		b.report(true, "error", e.file, e.line, "zone data larger than %d octets", maxWire)
		return
	}
	n := b.node(owner)
	n.ent = false
	s := b.set(n, h.Rrtype, ttl, e)
	// RFC 2181 §5: an RRset holds no duplicate records.
	if b.duplicate(s, rec, at) {
		b.wire = b.wire[:at]
		b.report(false, "warning", e.file, e.line, "duplicate record %s %s ignored", owner, typ)
		return
	}
	if ttl != s.ttl {
		b.pos[s.id].mixed = true
		s.ttl = min(s.ttl, ttl)
	}
	if int(s.off)+int(s.size) != at {
		// The RRset's records are not just before this one (the file interleaves RRsets):
		// move them to the end, so that an RRset's records stay side by side.
		moved := make([]byte, 0, int(s.size)+len(rec))
		moved = append(append(moved, b.wire[s.off:s.off+s.size]...), rec...)
		b.wire = append(b.wire[:at], moved...)
		s.off = uint32(at)
	}
	s.size += uint32(len(rec))
	s.n++
}

// duplicate reports whether s already holds the record rec (which starts at offset at).
func (b *builder) duplicate(s *rrset, rec []byte, at int) bool {
	if s.n < dupScan {
		dup := false
		eachRecord(b.wire[:at], s, func(r []byte) bool {
			dup = string(r) == string(rec)
			return !dup
		})
		return dup
	}
	seen := b.dups[s.id]
	if seen == nil {
		if b.dups == nil {
			b.dups = map[uint32]map[string]struct{}{}
		}
		seen = make(map[string]struct{}, 2*dupScan)
		eachRecord(b.wire[:at], s, func(r []byte) bool {
			seen[string(r)] = struct{}{}
			return true
		})
		b.dups[s.id] = seen
	}
	if _, dup := seen[string(rec)]; dup {
		return true
	}
	seen[string(rec)] = struct{}{}
	return false
}

// set returns n's RRset of type t, creating it (positioned at e) if missing.
func (b *builder) set(n *node, t uint16, ttl uint32, e entry) *rrset {
	if s := n.set(t); s != nil {
		return s
	}
	file := len(b.files) - 1
	if file < 0 || b.files[file] != e.file {
		file = slices.Index(b.files, e.file)
		if file < 0 {
			b.files = append(b.files, e.file)
			file = len(b.files) - 1
		}
	}
	b.pos = append(b.pos, setPos{line: int32(e.line), file: uint32(file)})
	n.sets = append(n.sets, rrset{typ: t, ttl: ttl, off: uint32(len(b.wire)), id: uint32(len(b.pos) - 1)})
	return &n.sets[len(n.sets)-1]
}

// finish freezes the zone: nodes with their RRsets, empty non-terminals, cuts, occlusion,
// wildcards and canonical order. The RRsets move into one slice and their records into one
// exactly sized byte slice, so that the building's spare capacity is freed.
func (b *builder) finish() *Zone {
	z := &Zone{origin: b.origin, nodes: b.nodes, dropped: b.dropped}
	total, size := 0, 0
	for _, n := range b.nodes {
		total += len(n.sets)
		for _, s := range n.sets {
			size += int(s.size)
		}
	}
	z.sets = make([]rrset, 0, total)
	z.types = make([]uint16, 0, total)
	z.wire = make([]byte, 0, size)
	for owner, n := range b.nodes {
		if len(n.sets) == 0 {
			n.sets = nil
			continue
		}
		slices.SortFunc(n.sets, func(x, y rrset) int { return int(x.typ) - int(y.typ) })
		first := len(z.sets)
		for _, s := range n.sets {
			b.checkTTLs(owner, &s)
			pos := s.id
			s.id = uint32(len(z.sets))
			off := len(z.wire)
			z.wire = append(z.wire, b.wire[s.off:s.off+s.size]...)
			s.off = uint32(off)
			z.sets = append(z.sets, s)
			z.types = append(z.types, s.typ)
			z.maxTTL = max(z.maxTTL, s.ttl)
			b.byID = append(b.byID, pos)
		}
		n.first = uint32(first)
		n.sets = z.sets[first:len(z.sets):len(z.sets)]
		z.owners++
	}
	b.wire = nil
	z.decoded = newDecodeCache(len(z.sets))
	b.z = z
	b.checkCNAMEs()
	b.checkDNAMEs()
	apex := b.nodes[b.origin]
	if apex == nil || apex.set(dns.TypeSOA) == nil {
		b.reportWhole(true, "error", b.file, 0, "no SOA record at the zone apex %s", b.origin)
	} else {
		z.soa = unpack(z.wire, b.origin, apex.set(dns.TypeSOA))[0].(*dns.SOA)
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

// posOf returns the position of the first record of owner's RRset of type t, if any.
func (b *builder) posOf(owner string, t uint16) (setPos, bool) {
	n := b.nodes[owner]
	if n == nil {
		return setPos{}, false
	}
	s := n.set(t)
	if s == nil {
		return setPos{}, false
	}
	return b.pos[b.byID[s.id]], true
}

// where and line give the position of the first record of an RRset.
func (b *builder) where(owner string, t uint16) string {
	if p, ok := b.posOf(owner, t); ok {
		return b.files[p.file]
	}
	return b.file
}

func (b *builder) line(owner string, t uint16) int {
	if p, ok := b.posOf(owner, t); ok {
		return int(p.line)
	}
	return 0
}

// checkTTLs warns about an RRset whose records differ in TTL; they are all served with the
// lowest one: RFC 2181 §5.2 deprecates the mix, and an RRSIG covers one Original TTL.
func (b *builder) checkTTLs(owner string, s *rrset) {
	p := b.pos[s.id]
	if !p.mixed {
		return
	}
	b.report(false, "warning", b.files[p.file], int(p.line),
		"RRset %s %s has records with different TTLs (RFC 2181 §5.2); serving all with TTL %d",
		owner, dns.Type(s.typ), s.ttl)
}

// records unpacks an RRset of the zone being built.
func (b *builder) records(n *node, s *rrset) []dns.RR { return unpack(b.z.wire, n.name, s) }

// checkCNAMEs enforces RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME is alone at its name (the
// DNSSEC records that could lawfully sit beside it were dropped at load) and single.
func (b *builder) checkCNAMEs() {
	for owner, n := range b.nodes {
		c := n.set(dns.TypeCNAME)
		if c == nil {
			continue
		}
		file, line := b.where(owner, dns.TypeCNAME), b.line(owner, dns.TypeCNAME)
		if c.n > 1 {
			b.report(true, "error", file, line, "%s has more than one CNAME record", owner)
		}
		if len(n.sets) > 1 {
			b.report(true, "error", file, line, "%s has a CNAME and other data", owner)
		}
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
		if d.n > 1 {
			b.report(true, "error", b.where(owner, dns.TypeDNAME), b.line(owner, dns.TypeDNAME),
				"%s has more than one DNAME record", owner)
		}
		n.dname = true
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
		if n := b.nodes[name[off:]]; n != nil && (n.cut || n.dname) {
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
		for _, rr := range b.records(n, s) {
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

// serialBefore reports whether serial a precedes b in RFC 1982 sequence space arithmetic.
func serialBefore(a, b uint32) bool {
	return a != b && ((a < b && b-a < 1<<31) || (a > b && a-b > 1<<31))
}
