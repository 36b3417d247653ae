package outcome

// Kind is the outcome of a lookup.
type Kind uint8

const (
	// Answer: data of the asked type at the name (directly, through an in-zone CNAME chain, or
	// synthesised from a wildcard). A CNAME chain that leaves the zone ends with Answer too.
	Answer Kind = iota
	// NoData: the final name exists (or is an empty non-terminal) but has no RRset of the type.
	NoData
	// NXDomain: the final name does not exist.
	NXDomain
	// Referral: the final name is at or below a zone cut.
	Referral
)

func (k Kind) String() string {
	switch k {
	case Answer:
		return "answer"
	case NoData:
		return "nodata"
	case NXDomain:
		return "nxdomain"
	case Referral:
		return "referral"
	}
	return "unknown"
}

// Synth records that the RRset(s) owned by Name in an answer were synthesised from the
// wildcard Wildcard ("*.<closest encloser>"), RFC 4592.
type Synth struct {
	Name     string // the owner the synthesised RRs carry (lowercased qname or chain target)
	Wildcard string // the wildcard owner they were copied from, e.g. "*.example.com."
}
