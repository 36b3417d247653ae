package zones

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/miekg/dns"
)

// MaxSignedTTL is the TTL cap of a signed zone: one week, as Route 53 does, so that a
// signature's validity (a week by default) is never shorter than the time a resolver may
// cache the records it covers. Options.MaxTTL takes it for signed zones.
const MaxSignedTTL = 7 * 24 * 3600

// Options tune how a zone is loaded.
type Options struct {
	// MaxTTL, when above 0, lowers every TTL above it to it at load. Signed zones use
	// MaxSignedTTL. 0 keeps TTLs as written.
	MaxTTL uint32
	// MinSerial, when not 0, raises the SOA serial to it when the zone's own serial precedes it
	// (RFC 1982 arithmetic). A zone offered fully signed to secondaries gets new versions (new
	// signatures, a key rollover) that its file does not; the served SOA must carry the serial
	// of the version the secondaries can fetch, or they would think themselves up to date.
	MinSerial uint32
}

// Zone is an immutable snapshot of one zone, built by Load or Parse. It is safe for concurrent
// use; the records it hands out belong to it and must not be modified.
//
// The records are kept packed, not as miekg/dns structs: a struct per record costs hundreds of
// bytes before the collector's headroom, which for a zone of a million names is gigabytes.
// Every RRset's RDATA lives in one byte slice (wire), the RRsets of all names in one slice
// (sets), the names in one string and the nodes in one slice of offsets, with no Go pointers
// for the collector to mark; a lookup unpacks the RRsets an answer needs, keeping the most
// recent ones in a small bounded cache (decoded) so that a repeated question does not allocate.
type Zone struct {
	origin  string
	soa     *dns.SOA
	neg     []dns.RR  // the SOA copy for negative answers, TTL = min(SOA TTL, MINIMUM); capped
	nodes   []node    // every name, each after its parent (see index.go)
	names   string    // the nodes' names, side by side
	index   nameIndex // name -> node
	wire    []byte    // per record: a 2-octet length, then the RDATA (names uncompressed)
	sets    []rrset   // every RRset, those of one node side by side, sorted by type
	types   []uint16  // sets[i].typ, so that a node's types are a slice of it
	chain   []uint32  // nodes owning RRsets and the apex, in canonical order (RFC 4034 §6.1)
	owners  int
	dropped int
	maxTTL  uint32
	decoded decodeCache

	unavailable bool   // a placeholder without data (see Unavailable)
	expired     bool   // ... because a secondary zone expired (see Expired)
	reason      string // why, for clients (see Failed)

	memo memo // values other packages derive from this snapshot (see Memo)
}

// MaxTTL is the largest TTL of any RRset in the zone (after the MaxTTL cap). Key rollovers wait
// that long for signatures by a retired key to leave caches (RFC 7583 §3.3.1).
func (z *Zone) MaxTTL() uint32 { return z.maxTTL }

// rrset is the records of one type at a node, packed in Zone.wire.
type rrset struct {
	typ  uint16
	n    uint32 // records
	ttl  uint32 // of every record (RFC 2181 §5.2)
	off  uint32 // in Zone.wire
	size uint32 // octets in Zone.wire
	id   uint32 // index in Zone.sets (while building: in builder.sets)
}

// typesOf returns the types at n, sorted ascending, capped; it does not allocate.
func (z *Zone) typesOf(n *node) []uint16 {
	end := n.first + n.nsets
	return z.types[n.first:end:end]
}

// Load reads the master file at path as the zone origin. $INCLUDE directives are followed,
// relative to the directory of the including file. Errors that name a position are *ParseError.
// A big file is parsed in pieces on every core (see parseParallel), with the same result.
func Load(origin, path string, opt Options) (*Zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load zone %s: %w", origin, err)
	}
	defer f.Close()
	var z *Zone
	fi, err := f.Stat()
	if err == nil && fi.Mode().IsRegular() && fi.Size() >= parallelBytes && runtime.GOMAXPROCS(0) > 1 {
		size := fi.Size()
		z, err = parse(origin, path, opt, int(size/bytesPerRecord), func(origin string, emit func(entry)) error {
			return parseParallel(f, size, origin, path, pieceSize(size), emit)
		})
	} else {
		z, err = Parse(f, origin, path, opt)
	}
	if err != nil {
		return nil, fmt.Errorf("load zone %s: %w", origin, err)
	}
	return z, nil
}

// Parse reads a master file from r as the zone origin; filename names it in errors and anchors
// relative $INCLUDE paths (errors in included files name them by absolute path). A syntax error is returned as a *ParseError; semantic errors (no SOA
// at the apex, several SOAs, records out of zone, a CNAME beside other data, a class other
// than IN, a record without data) are joined *ParseErrors, one per problem.
//
// Parse drops the DNSSEC records the online signer makes itself (RRSIG, NSEC, NSEC3,
// NSEC3PARAM anywhere; DNSKEY, CDS and CDNSKEY at the apex) and counts them in Dropped.
func Parse(r io.Reader, origin, filename string, opt Options) (*Zone, error) {
	return parse(origin, filename, opt, recordsIn(r), func(origin string, emit func(entry)) error {
		return parseFile(r, origin, filename, emit)
	})
}

// parse builds the zone origin from the records that read hands over; records is how many
// are expected.
func parse(origin, filename string, opt Options, records int, read func(origin string, emit func(entry)) error) (*Zone, error) {
	if _, ok := dns.IsDomainName(origin); !ok {
		return nil, fmt.Errorf("bad zone origin %q", origin)
	}
	origin = dns.CanonicalName(origin)
	z, findings, err := build(func(emit func(entry)) error {
		return read(origin, emit)
	}, origin, displayName(filename), opt, records)
	if err != nil {
		return nil, err
	}
	if err := fatal(findings); err != nil {
		return nil, err
	}
	return z, nil
}

// fatal joins the findings that stop a load, one *ParseError each, or returns nil.
func fatal(findings []finding) error {
	var errs []error
	for _, f := range findings {
		if f.fatal {
			errs = append(errs, &ParseError{File: f.File, Line: f.Line, Msg: f.Msg})
		}
	}
	return errors.Join(errs...)
}

// bytesPerRecord is about what a record takes in a master file (owner, TTL, class, type and
// data on one line): enough to guess a file's record count from its size.
const bytesPerRecord = 48

// recordsIn guesses how many records r holds from its size, when it knows it (a file, a
// string or byte reader); 0 otherwise.
func recordsIn(r io.Reader) int { return int(min(sizeOf(r), 1<<34) / bytesPerRecord) }

// sizeOf returns how many octets r holds, when it knows it (a regular file, a string or byte
// reader); 0 otherwise.
func sizeOf(r io.Reader) int64 {
	switch r := r.(type) {
	case interface{ Stat() (os.FileInfo, error) }:
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	case interface{ Len() int }:
		return int64(r.Len())
	}
	return 0
}

func displayName(filename string) string {
	if filename == "" {
		return "-"
	}
	return filename
}

// Origin returns the zone's apex, a lowercased FQDN.
func (z *Zone) Origin() string { return z.origin }

// Serial returns the SOA serial (0 for an Unavailable zone).
func (z *Zone) Serial() uint32 {
	if z.soa == nil {
		return 0
	}
	return z.soa.Serial
}

// SOA returns the zone's SOA record (nil for an Unavailable zone). It belongs to the snapshot:
// do not modify it.
func (z *Zone) SOA() *dns.SOA { return z.soa }

// Names returns the number of names that own RRsets (glue owners included).
func (z *Zone) Names() int { return z.owners }

// Dropped returns how many DNSSEC records were left out at load because the signer makes its
// own.
func (z *Zone) Dropped() int { return z.dropped }
