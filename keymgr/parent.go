package keymgr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/rollover"
)

// DefaultParentTimeout bounds one query of DNSParent to a parent server.
const DefaultParentTimeout = 3 * time.Second

// ParentDS asks one of a zone's parent name servers for the zone's DS RRset. keymgr uses it
// before disabling signing or deactivating a KSK (is its DS still at the parent?) and during
// an automatic KSK rollover (has the parent followed the CDS?). Implementations are safe for
// concurrent use.
type ParentDS interface {
	// QueryDS returns the DS records for zone that server (a ZonePolicy.Parents entry)
	// publishes: none when it has none (NOERROR without DS, or NXDOMAIN), an error when it
	// gives no usable answer.
	QueryDS(ctx context.Context, server, zone string) ([]*dns.DS, error)
}

// DNSParent is the ParentDS of a running server: a DNS query to server (host:port), over
// UDP with EDNS0 and the DO bit, retried over TCP when truncated.
type DNSParent struct {
	// Timeout bounds each query; 0 means DefaultParentTimeout.
	Timeout time.Duration
}

var _ ParentDS = DNSParent{}

// parentDS asks the configured parent servers for the zone's DS RRset (RFC 4035 §3.1.4.1: the
// parent side of the cut answers for DS) and returns the union of what they publish. It fails
// only when no server answered.
func (m *Manager) parentDS(ctx context.Context, z *zone) ([]*dns.DS, error) {
	var out []*dns.DS
	var errs []error
	answered := false
	for _, srv := range z.policy.Parents {
		ds, err := m.cfg.Parent.QueryDS(ctx, srv, z.name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", srv, err))
			continue
		}
		answered = true
		out = append(out, ds...)
	}
	if !answered {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// QueryDS implements ParentDS (RFC 4035 §3.1.4.1: the parent side of the cut answers for
// DS).
func (p DNSParent) QueryDS(ctx context.Context, server, zone string) ([]*dns.DS, error) {
	q := new(dns.Msg)
	q.SetQuestion(zone, dns.TypeDS)
	q.RecursionDesired = false
	q.SetEdns0(1232, true)
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultParentTimeout
	}
	c := &dns.Client{Timeout: timeout}
	r, _, err := c.ExchangeContext(ctx, q, server)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, q, server)
	}
	if err != nil {
		return nil, err
	}
	switch r.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	default:
		return nil, fmt.Errorf("DS query for %s: rcode %s", zone, dns.RcodeToString[r.Rcode])
	}
	var out []*dns.DS
	for _, rr := range r.Answer {
		if ds, ok := rr.(*dns.DS); ok && strings.EqualFold(ds.Hdr.Name, zone) {
			out = append(out, ds)
		}
	}
	return out, nil
}

// checkParentDS refuses (KeySigningKeyInParentDSRecord) when a configured parent publishes a
// DS matching KSK k. No parents: nothing to check.
func (m *Manager) checkParentDS(ctx context.Context, z *zone, k *kskRec) error {
	if len(z.policy.Parents) == 0 {
		return nil
	}
	_, dk, err := m.material(ctx, z, &k.keyRec, dns.ZONE|dns.SEP, false)
	if err != nil {
		return err
	}
	ds, err := m.parentDS(ctx, z)
	if err != nil {
		return &Error{Code: CodeServiceUnavailable, Message: "cannot ask the parent servers for the zone's DS", Err: err}
	}
	if matchesDS(dk, ds) {
		return errorf(CodeKeySigningKeyInParentDSRecord, "the parent publishes a DS for KSK %s (key tag %d): replace it with another KSK's DS first", k.Name, dk.KeyTag())
	}
	return nil
}

// matchesDS reports whether any DS in ds is dk's (RFC 4034 §5.2: tag, algorithm and the
// digest of the DNSKEY by the DS's digest type).
func matchesDS(dk *dns.DNSKEY, ds []*dns.DS) bool {
	tag := dk.KeyTag()
	for _, d := range ds {
		if d.KeyTag != tag || d.Algorithm != dk.Algorithm {
			continue
		}
		if want := dk.ToDS(d.DigestType); want != nil && strings.EqualFold(want.Digest, d.Digest) {
			return true
		}
	}
	return false
}

// errNoParents: an automatic KSK rollover cannot see the parent without configured servers.
var errNoParents = errors.New("no parent name servers are configured: confirm the DS change by hand (signet ksk ds-seen)")

// dsChecks asks every configured parent server for the zone's DS RRset and reports, for each of the zone's KSKs, whether its DS is at every
// server, at some, or at none (rollover.RecordDS). A server that does not answer makes the
// whole check inconclusive (an error): only an answer from every server may confirm that the
// parent has changed, and a missing answer is no evidence that it has not.
func (m *Manager) dsChecks(ctx context.Context, z *zone) ([]rollover.DSCheck, error) {
	if len(z.policy.Parents) == 0 {
		return nil, errNoParents
	}
	sets := make([][]*dns.DS, 0, len(z.policy.Parents))
	for _, srv := range z.policy.Parents {
		ds, err := m.cfg.Parent.QueryDS(ctx, srv, z.name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", srv, err)
		}
		sets = append(sets, ds)
	}
	var out []rollover.DSCheck
	for _, k := range z.st.KSKs {
		_, dk, err := m.material(ctx, z, &k.keyRec, dns.ZONE|dns.SEP, false)
		if err != nil {
			continue // cannot tell; RecordDS leaves the key as it was
		}
		n := 0
		for _, ds := range sets {
			if matchesDS(dk, ds) {
				n++
			}
		}
		p := rollover.DSAtSome
		switch n {
		case len(sets):
			p = rollover.DSAtAll
		case 0:
			p = rollover.DSAtNone
		}
		out = append(out, rollover.DSCheck{KeyID: k.ID, Presence: p})
	}
	return out, nil
}
