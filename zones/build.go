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
// structs are garbage at once and a big zone never exists twice in memory. Its index is the
// zone's (see index.go): names in one arena, nodes in one slice, each created after its parent.
type builder struct {
	origin   string
	file     string
	opt      Options
	arena    strings.Builder // the names; its String is the zone's names, without a copy
	nodes    []node          // while building, node.first is the index+1 of its last RRset in sets (0: none)
	index    nameIndex
	sets     []bset // every RRset in the order first seen
	wire     []byte
	scratch  []byte
	pos      []setPos                       // per RRset (index in sets)
	files    []string                       // the files records came from (setPos.file)
	dups     map[uint32]map[string]struct{} // RDATA seen, for RRsets too big to scan
	byID     []uint32                       // index in pos of each Zone.sets entry
	z        *Zone                          // the zone, once finish has packed it
	findings []finding
	dropped  int
	soaCount int

	lastOwner string // the owner of the previous record and its node: files group a name's records
	lastNode  uint32
}

// bset is an RRset being built; a node's RRsets are a list linked by prev (index+1 in
// builder.sets, 0 ending it).
type bset struct {
	rrset
	prev uint32
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
// err is src's error; the records before it have been built. records is how many records src
// is expected to hand over (0: unknown), to size the building's slices once rather than grow
// them record by record.
func build(src source, origin, file string, opt Options, records int) (z *Zone, findings []finding, err error) {
	b := &builder{
		origin:  dns.CanonicalName(origin),
		file:    file,
		opt:     opt,
		index:   newNameIndex(records / 2),
		scratch: make([]byte, 1024), // grown by packRdata for a bigger record
		sets:    make([]bset, 0, records),
		pos:     make([]setPos, 0, records),
		nodes:   make([]node, 0, records*6/10),
		wire:    make([]byte, 0, records*24),
	}
	b.arena.Grow(records * 12)
	const inFlight = 8
	batch := 512
	if records > 0 {
		batch = min(batch, records+8) // a small zone's records in one small batch
	}
	batches := make(chan []entry, inFlight)
	// Batches go back to the parser once built: a load allocates inFlight+2 of them, not one
	// per batch.
	free := make(chan []entry, inFlight+2)
	go func() {
		defer close(batches)
		next := func() []entry {
			select {
			case es := <-free:
				return es[:0]
			default:
				return make([]entry, 0, batch)
			}
		}
		cur := next()
		err = src(func(e entry) {
			cur = append(cur, e)
			if len(cur) == batch {
				batches <- cur
				cur = next()
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
		clear(es) // the parsed records are garbage now
		select {
		case free <- es:
		default:
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
	if len(owner) > 0xffff {
		b.report(true, "error", e.file, e.line, "owner name of %s is too long", typ)
		return
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

	b.wire = reserve(b.wire, 512) // most records; a bigger one grows it by append
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
	b.nodes[n].ent = false
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

// set returns the RRset of type t at node n, creating it (positioned at e) if missing.
func (b *builder) set(n uint32, t uint16, ttl uint32, e entry) *rrset {
	for i := b.nodes[n].first; i != 0; i = b.sets[i-1].prev {
		if b.sets[i-1].typ == t {
			return &b.sets[i-1].rrset
		}
	}
	file := len(b.files) - 1
	if file < 0 || b.files[file] != e.file {
		file = slices.Index(b.files, e.file)
		if file < 0 {
			b.files = append(b.files, e.file)
			file = len(b.files) - 1
		}
	}
	id := uint32(len(b.sets))
	b.pos = append(reserve(b.pos, 1), setPos{line: int32(e.line), file: uint32(file)})
	b.sets = append(reserve(b.sets, 1), bset{
		rrset: rrset{typ: t, ttl: ttl, off: uint32(len(b.wire)), id: id},
		prev:  b.nodes[n].first,
	})
	b.nodes[n].first = id + 1
	b.nodes[n].nsets++
	return &b.sets[id].rrset
}

// finish freezes the zone: nodes with their RRsets, empty non-terminals, cuts, occlusion,
// wildcards and canonical order. The RRsets move into one slice, each node's side by side
// and sorted by type; their records stay where add packed them.
func (b *builder) finish() *Zone {
	z := &Zone{origin: b.origin, dropped: b.dropped}
	z.sets = make([]rrset, 0, len(b.sets))
	z.types = make([]uint16, 0, len(b.sets))
	b.byID = make([]uint32, 0, len(b.sets))
	var list []uint32
	for i := range b.nodes {
		n := &b.nodes[i]
		list = list[:0]
		for j := n.first; j != 0; j = b.sets[j-1].prev {
			list = append(list, j-1)
		}
		n.first = uint32(len(z.sets))
		if len(list) == 0 {
			continue
		}
		slices.SortFunc(list, func(x, y uint32) int { return int(b.sets[x].typ) - int(b.sets[y].typ) })
		for _, j := range list {
			s := b.sets[j].rrset
			b.checkTTLs(n, &s)
			s.id = uint32(len(z.sets))
			z.sets = append(z.sets, s)
			z.types = append(z.types, s.typ)
			z.maxTTL = max(z.maxTTL, s.ttl)
			b.byID = append(b.byID, j)
		}
		z.owners++
	}
	// The records stay where they were packed (an RRset's side by side); the spare capacity
	// of the building's slices goes with the builder when it is large.
	z.wire, z.nodes = clip(b.wire), clip(b.nodes)
	z.names = b.arena.String()
	b.wire, b.sets = nil, nil
	z.index = b.index
	b.nodes = nil
	z.decoded = newDecodeCache(len(z.sets))
	b.z = z
	b.checkCNAMEs()
	b.checkDNAMEs()
	apex := z.node(b.origin)
	if apex == nil || z.set(apex, dns.TypeSOA) == nil {
		b.reportWhole(true, "error", b.file, 0, "no SOA record at the zone apex %s", b.origin)
	} else {
		z.soa = unpack(z.wire, b.origin, z.set(apex, dns.TypeSOA))[0].(*dns.SOA)
		neg := dns.Copy(z.soa)
		// RFC 2308 §5 / RFC 9077: negative answers live min(SOA TTL, SOA MINIMUM).
		neg.Header().Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl)
		z.neg = []dns.RR{neg}
		z.neg = z.neg[:1:1]
		if z.set(apex, dns.TypeNS) == nil {
			b.reportWhole(false, "error", b.where(b.origin, dns.TypeSOA), b.line(b.origin, dns.TypeSOA),
				"no NS records at the zone apex %s", b.origin)
		}
	}
	b.markCuts()
	b.checkNS()
	for i := range z.nodes {
		n := &z.nodes[i]
		if uint32(i) != n.parent && strings.HasPrefix(z.nameOf(n), "*.") {
			z.nodes[n.parent].wild = uint32(i) + 1
		}
	}
	z.order()
	return z
}

// node returns the node for name, creating it and its missing ancestors (as empty
// non-terminals) down from the apex, each before its children.
func (b *builder) node(name string) uint32 {
	if name == b.lastOwner && len(b.nodes) > 0 {
		return b.lastNode
	}
	n := b.nodeOf(name)
	b.lastOwner, b.lastNode = name, n
	return n
}

func (b *builder) nodeOf(name string) uint32 {
	if i, ok := b.index.find(b.nodes, b.arena.String(), name); ok {
		return i
	}
	idx := uint32(len(b.nodes))
	parent := idx
	if name != b.origin {
		off, _ := dns.NextLabel(name, 0)
		up := name[off:]
		if up == "" {
			up = "." // the root zone
		}
		parent = b.nodeOf(up)
		idx = uint32(len(b.nodes))
	}
	b.nodes = append(reserve(b.nodes, 1), node{name: uint32(b.arena.Len()), nlen: uint16(len(name)), parent: parent, ent: true})
	if b.arena.Cap()-b.arena.Len() < len(name) {
		b.arena.Grow(b.arena.Cap()) // doubles it
	}
	b.arena.WriteString(name)
	b.index.insert(b.index.hash(name), idx)
	return idx
}

// posOf returns the position of the first record of owner's RRset of type t, if any.
func (b *builder) posOf(owner string, t uint16) (setPos, bool) {
	n := b.z.node(owner)
	if n == nil {
		return setPos{}, false
	}
	s := b.z.set(n, t)
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

// checkTTLs warns about an RRset of n whose records differ in TTL; they are all served with
// the lowest one: RFC 2181 §5.2 deprecates the mix, and an RRSIG covers one Original TTL.
func (b *builder) checkTTLs(n *node, s *rrset) {
	p := b.pos[s.id]
	if !p.mixed {
		return
	}
	b.report(false, "warning", b.files[p.file], int(p.line),
		"RRset %s %s has records with different TTLs (RFC 2181 §5.2); serving all with TTL %d",
		b.arena.String()[n.name:n.name+uint32(n.nlen)], dns.Type(s.typ), s.ttl)
}

// records unpacks an RRset of the zone being built.
func (b *builder) records(n *node, s *rrset) []dns.RR { return unpack(b.z.wire, b.z.nameOf(n), s) }

// checkCNAMEs enforces RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME is alone at its name (the
// DNSSEC records that could lawfully sit beside it were dropped at load) and single.
func (b *builder) checkCNAMEs() {
	z := b.z
	for i := range z.nodes {
		n := &z.nodes[i]
		c := z.set(n, dns.TypeCNAME)
		if c == nil {
			continue
		}
		owner := z.nameOf(n)
		file, line := b.where(owner, dns.TypeCNAME), b.line(owner, dns.TypeCNAME)
		if c.n > 1 {
			b.report(true, "error", file, line, "%s has more than one CNAME record", owner)
		}
		if n.nsets > 1 {
			b.report(true, "error", file, line, "%s has a CNAME and other data", owner)
		}
	}
}

// checkDNAMEs enforces RFC 6672 §2.4: one DNAME per owner (a CNAME beside it is caught by
// checkCNAMEs), and records the target that lookups substitute.
func (b *builder) checkDNAMEs() {
	z := b.z
	for i := range z.nodes {
		n := &z.nodes[i]
		d := z.set(n, dns.TypeDNAME)
		if d == nil {
			continue
		}
		if d.n > 1 {
			owner := z.nameOf(n)
			b.report(true, "error", b.where(owner, dns.TypeDNAME), b.line(owner, dns.TypeDNAME),
				"%s has more than one DNAME record", owner)
		}
		n.dname = true
	}
}

// markCuts finds the delegation points (NS records below the apex; a wildcard owner is not a
// delegation, RFC 4592 §4.2) and marks what lies below them, or below a DNAME, as occluded:
// glue or stale data that is not authoritative here, and names that a DNAME redirects
// (RFC 6672 §2.3), whose data is never served. A node comes after its parent, so one pass in
// index order settles occlusion.
func (b *builder) markCuts() {
	z := b.z
	for i := range z.nodes {
		n := &z.nodes[i]
		if uint32(i) != n.parent && z.set(n, dns.TypeNS) != nil && !strings.HasPrefix(z.nameOf(n), "*.") {
			n.cut = true
		}
	}
	for i := range z.nodes {
		n := &z.nodes[i]
		if uint32(i) == n.parent {
			continue
		}
		p := &z.nodes[n.parent]
		n.occluded = p.occluded || p.cut || p.dname
	}
	for i := range z.nodes {
		if n := &z.nodes[i]; n.occluded && !n.ent {
			b.warnOccluded(n, b.hiderAbove(n))
		}
	}
}

// warnOccluded warns about the data at n that the cut or DNAME at h hides. Addresses below a
// cut are glue, which is expected; below a DNAME nothing is ever served.
func (b *builder) warnOccluded(n, h *node) {
	z := b.z
	owner := z.nameOf(n)
	for _, s := range z.setsOf(n) {
		file, line := b.where(owner, s.typ), b.line(owner, s.typ)
		switch {
		case h.cut && (s.typ == dns.TypeA || s.typ == dns.TypeAAAA):
		case h.cut:
			b.report(false, "warning", file, line,
				"%s %s is below the zone cut at %s and is never served", owner, dns.Type(s.typ), z.nameOf(h))
		default:
			b.report(false, "warning", file, line,
				"%s %s is below the DNAME at %s and is never served (RFC 6672 §2.3)", owner, dns.Type(s.typ), z.nameOf(h))
		}
	}
}

// hiderAbove returns the highest node strictly above n that is a zone cut or owns a DNAME, or
// nil: everything below it is occluded.
func (b *builder) hiderAbove(n *node) *node {
	var h *node
	for a := n; ; {
		p := &b.z.nodes[a.parent]
		if p == a {
			return h
		}
		if p.cut || p.dname {
			h = p
		}
		a = p
	}
}

// cutAbove returns the highest zone cut strictly above name, or nil.
func (b *builder) cutAbove(name string) *node {
	var cut *node
	for off, end := dns.NextLabel(name, 0); !end && len(name)-off > len(b.origin); off, end = dns.NextLabel(name, off) {
		if n := b.z.node(name[off:]); n != nil && n.cut {
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
	if n := b.z.node(name); n != nil && n.cut {
		return n
	}
	return nil
}

// checkNS looks at the targets of every served NS RRset: a target at or below a zone cut
// can only be reached through glue (an error without it, as named-checkzone says); another
// in-zone target should exist and have addresses.
func (b *builder) checkNS() {
	z := b.z
	for i := range z.nodes {
		n := &z.nodes[i]
		s := z.set(n, dns.TypeNS)
		if s == nil || n.occluded || (uint32(i) != n.parent && !n.cut) {
			continue
		}
		owner := z.nameOf(n)
		file, line := b.where(owner, dns.TypeNS), b.line(owner, dns.TypeNS)
		for _, rr := range b.records(n, s) {
			t := dns.CanonicalName(rr.(*dns.NS).Ns)
			if !dns.IsSubDomain(b.origin, t) {
				continue
			}
			tn := z.node(t)
			hasAddr := tn != nil && (z.set(tn, dns.TypeA) != nil || z.set(tn, dns.TypeAAAA) != nil)
			switch cut := b.cutAtOrAbove(t); {
			case hasAddr:
			case cut != nil:
				b.reportWhole(false, "error", file, line,
					"NS %s of %s is at or below the zone cut %s and has no glue A/AAAA record", t, owner, z.nameOf(cut))
			case tn == nil || tn.ent:
				b.reportWhole(false, "warning", file, line, "NS %s of %s does not exist in the zone", t, owner)
			default:
				b.reportWhole(false, "warning", file, line, "NS %s of %s has no A or AAAA record", t, owner)
			}
		}
	}
}

// reserve returns s with room for n more elements, doubling its capacity when it must grow:
// append's gentler growth of big slices would copy a big zone's slices many times over.
func reserve[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	return slices.Grow(s, max(n, cap(s)))
}

// clip returns s, copied to an exactly sized slice when more than a fifth of its capacity is
// unused.
func clip[T any](s []T) []T {
	if cap(s)-len(s) > len(s)/4 {
		return slices.Clone(s)
	}
	return s
}

// serialBefore reports whether serial a precedes b in RFC 1982 sequence space arithmetic.
func serialBefore(a, b uint32) bool {
	return a != b && ((a < b && b-a < 1<<31) || (a > b && a-b > 1<<31))
}
