package zones

import (
	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/outcome"
)

// Kind is the outcome of a lookup. The signer proves the same outcomes, so the type is shared
// with it.
type Kind = outcome.Kind

// The outcomes of a lookup.
const (
	// Answer: data of the asked type at the name (directly, through an in-zone CNAME chain, or
	// synthesised from a wildcard). A CNAME chain that leaves the zone ends with Answer too.
	Answer = outcome.Answer
	// NoData: the final name exists (or is an empty non-terminal) but has no RRset of the type.
	NoData = outcome.NoData
	// NXDomain: the final name does not exist.
	NXDomain = outcome.NXDomain
	// Referral: the final name is at or below a zone cut; Ns holds the child's NS RRset followed
	// by the DS RRset if the child is signed (also in Result.DS), Extra holds in-zone glue.
	Referral = outcome.Referral
)

// Synth records that the RRset(s) owned by Name in the answer were synthesised from the
// wildcard Wildcard ("*.<closest encloser>"), RFC 4592.
type Synth = outcome.Synth

// Result is what a lookup found. Every name in it is lowercased and fully qualified.
type Result struct {
	Kind Kind

	// Answer, Ns and Extra are the sections of the response. For NXDomain and NoData, Ns holds
	// the SOA with its TTL already set to min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
	Answer, Ns, Extra []dns.RR

	// Name is the name the outcome is about: the qname, or the last target of the CNAME chain.
	// For NoData and NXDomain the denial of existence is about this name.
	Name string

	// Types lists, sorted ascending, the types that exist at Name (NoData), or at the delegation
	// point Cut (Referral). It is empty for an empty non-terminal and for NXDomain.
	Types []uint16

	// ENT is true when Name is an empty non-terminal (NoData with no types).
	ENT bool

	// ClosestEncloser is set for NXDomain and for wildcard answers: the longest existing
	// ancestor of Name (RFC 4592 §3.3.1).
	ClosestEncloser string

	// Synth lists the RRsets of Answer that were synthesised from wildcards (in chain order).
	// For a NoData that a wildcard produced (the wildcard owns other types), Synth has one entry
	// for Name.
	Synth []Synth

	// Cut is the delegation point of a Referral (and of a DS answer from the parent side it is
	// empty: DS at a cut is answered as ordinary parent data). DS is the DS RRset at Cut, nil when
	// the child is not signed.
	Cut string
	DS  []dns.RR

	// YXDomain is set when a DNAME substitution made a name longer than 255 octets: the
	// Answer holds the DNAME and the response's rcode is YXDOMAIN (RFC 6672 §2.2).
	YXDomain bool

	// SOA is the zone's SOA record (owned by the snapshot), for negative TTLs and denial records.
	SOA *dns.SOA
}
