package signer

import (
	"crypto"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/outcome"
)

// Mode is a zone's denial-of-existence mode.
type Mode uint8

const (
	// Compact is RFC 9824: NOERROR + one NSEC at the qname (next name \000.qname) whose bitmap
	// holds NXNAME for a missing name; NXDOMAIN when the query set the CO flag.
	Compact Mode = iota
	// BlackLies is Route 53's behaviour (draft-valsorda-dnsop-black-lies): as Compact without
	// NXNAME and without the CO signal.
	BlackLies
	// WhiteLies is RFC 4470: minimally covering NSEC records and a real NXDOMAIN.
	WhiteLies
	// NSEC is the zone's real NSEC chain (RFC 4034 §4, RFC 4035 §3.1.3): the NSEC records
	// between existing names, each signed once and cached, and a real NXDOMAIN. Missing names
	// cost no fresh signature, the zone can be walked, and the whole signed zone can be
	// transferred to secondaries that do not sign.
	NSEC
	// NSEC3 is the zone's real NSEC3 chain (RFC 5155) with RFC 9276's parameters: SHA-1, no
	// extra iterations, no salt, no opt-out. Like NSEC, but the chain cannot be walked for
	// names without hashing a guess.
	NSEC3
)

// TypeNXNAME is the NXNAME meta-type of RFC 9824 (a query for it is FORMERR).
const TypeNXNAME uint16 = 128

// Kind is the outcome of the zone lookup that the response reports. It is the zones package's
// own type (both name it through the internal outcome package), so a lookup result reaches
// the signer without a translation that could fall out of step; its values are re-exported
// here for the signer's users.
type Kind = outcome.Kind

// The outcomes, as outcome names them.
const Answer, NoData, NXDomain, Referral = outcome.Answer, outcome.NoData, outcome.NXDomain, outcome.Referral

// Synth says that the RRsets owned by Name were synthesised from the wildcard Wildcard.
type Synth = outcome.Synth

// Neighbours reports the existing names of the zone just before and just after name in
// canonical order (RFC 4034 §6.1), wrapping around at the apex. White lies use it so that a
// covering NSEC never covers an existing name. *zones.Zone implements it.
type Neighbours interface {
	Neighbours(name string) (prev, next string)
}

// Hider is an optional ability of Input.Names: Hides reports whether name is a zone cut or a
// DNAME owner, whose descendants are not the zone's to deny (they belong to the child, or are
// redirected), so that white lies never start a covering NSEC below it. *zones.Zone
// implements it.
type Hider interface {
	Hides(name string) bool
}

// Gluer is an optional ability of Input.Names: Glue reports whether the address records at
// name, found in the additional section, are glue (at or below a zone cut, or below a DNAME
// owner) rather than the zone's authoritative data. Authoritative additional RRsets are
// signed (RFC 4035 §3.1.1: "When placing a signed RRset in the Additional section, the name
// server MUST also place its RRSIG RRs in the Additional section"); glue never is. Without
// it, no additional record is signed. *zones.Zone implements it.
type Gluer interface {
	Glue(name string) bool
}

// Chain is the zone's NSEC chain, which NSEC mode answers from. *zones.Zone implements it.
type Chain interface {
	// Cover returns the chain link proving name: owner is the last chain name at or before
	// name in canonical order (name itself when it is in the chain), next the one after it,
	// wrapping to the apex.
	Cover(name string) (owner, next string)
	// ChainTypes returns the zone's types at a chain name for its NSEC bitmap (at a cut only
	// NS and DS), without NSEC, RRSIG and the ring's key sets.
	ChainTypes(owner string) []uint16
}

// HashedChain is what NSEC3 mode needs of a zone besides Chain. *zones.Zone implements it.
type HashedChain interface {
	Chain
	// HashedNames calls fn for every name of the NSEC3 chain: the NSEC chain's names and the
	// empty non-terminals (ent) not below a cut.
	HashedNames(fn func(name string, ent bool))
	// Memo keeps a value derived from the zone snapshot (the hashed chain) for as long as
	// the snapshot lives.
	Memo(key any, build func() any) any
}

// Input describes one response for the signer. Every name is lowercased and fully qualified.
type Input struct {
	Zone  string // the apex
	Mode  Mode
	Kind  Kind
	QName string
	QType uint16

	Name            string   // the name the outcome is about (last CNAME target)
	Types           []uint16 // types at Name (NoData) or at Cut (Referral), sorted
	ENT             bool
	ClosestEncloser string
	Synth           []Synth
	Cut             string
	HasDS           bool // the Referral carries a DS RRset (already in the Ns section)

	SOA       *dns.SOA // the zone's SOA (owned by the zone snapshot: never modified)
	DO        bool     // the query set DO: add DNSSEC records
	CompactOK bool     // the query set the Compact-answers-OK EDNS flag (RFC 9824)

	Names Neighbours // needed by WhiteLies; NSEC needs it to be a Chain too
}

// Key is one published DNSKEY and, when it signs, its private half.
type Key struct {
	DNSKEY *dns.DNSKEY   // flags 257 (KSK) or 256 (ZSK), owner = the apex
	Signer crypto.Signer // nil for a key that is published only
	Tag    uint16        // DNSKEY.KeyTag(), computed once
	KSK    bool          // signs the DNSKEY, CDS and CDNSKEY RRsets
	Active bool          // makes signatures now (else published only)
	// Unpublished keeps the key out of the DNSKEY RRset while it signs: an algorithm
	// rollover's new ZSK signs before it is published, and the old algorithm's keys sign on
	// after they are withdrawn (RFC 6781 §4.1.4).
	Unpublished bool
}
