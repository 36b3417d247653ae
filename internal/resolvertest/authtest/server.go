package authtest

import (
	"net"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
)

// Answer builds the response to req, untruncated. Exported so tests can check the
// zone's answers without a socket.
func (z *Zone) Answer(req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	q := req.Question[0]
	qname := dns.CanonicalName(q.Name)
	if !dns.IsSubDomain(z.Origin, qname) {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	resp.Authoritative = true
	do := false
	if opt := req.IsEdns0(); opt != nil {
		do = opt.Do()
		// Advertise 1232 bytes like Signet (DNS flag day 2020) and echo DO (RFC 3225 §3).
		resp.SetEdns0(1232, do)
	}
	if rrs := z.rrsetWithSigs(do, qname, q.Qtype); rrs != nil {
		resp.Answer = rrs
	} else if z.exists(qname) {
		// NODATA: SOA plus the NSEC at qname showing the type is absent (RFC 4035 §3.1.3.1).
		resp.Ns = z.rrsetWithSigs(do, z.Origin, dns.TypeSOA)
		resp.Ns = append(resp.Ns, z.nsecProof(do, qname)...)
	} else {
		// NXDOMAIN: the NSEC covering qname and the one covering the wildcard at the
		// closest encloser (RFC 4035 §3.1.3.2).
		resp.Rcode = dns.RcodeNameError
		resp.Ns = z.rrsetWithSigs(do, z.Origin, dns.TypeSOA)
		ce := z.closestEncloser(qname)
		resp.Ns = append(resp.Ns, z.nsecProof(do, z.covering(qname))...)
		if wc := z.covering("*." + ce); wc != z.covering(qname) {
			resp.Ns = append(resp.Ns, z.nsecProof(do, wc)...)
		}
	}
	return resp
}

// ServeDNS implements dns.Handler: it answers authoritatively from the zone, adding
// RRSIGs and NSEC proofs when the query sets DO (RFC 4035 §3.1). Over UDP the answer is
// truncated to the client's size (512 bytes without EDNS, RFC 6891 §6.2.3) with TC=1, so
// clients retry over TCP.
func (z *Zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := z.Answer(req)
	if _, udp := w.LocalAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(max(opt.UDPSize(), dns.MinMsgSize))
		}
		resp.Truncate(size)
	}
	// A write error means the client went away; a test server has no one to tell.
	_ = w.WriteMsg(resp)
}

// rrsetWithSigs returns a copy of the RRset, followed by its RRSIGs when do is set, or
// nil when the RRset does not exist.
func (z *Zone) rrsetWithSigs(do bool, name string, rtype uint16) []dns.RR {
	rrs, sigs := z.RRset(name, rtype)
	if rrs == nil {
		return nil
	}
	out := slices.Clone(rrs)
	if do {
		out = append(out, sigs...)
	}
	return out
}

// nsecProof returns the signed NSEC at owner, or nothing when the client did not ask for
// DNSSEC records.
func (z *Zone) nsecProof(do bool, owner string) []dns.RR {
	if !do {
		return nil
	}
	return z.rrsetWithSigs(true, owner, dns.TypeNSEC)
}

func (z *Zone) exists(name string) bool {
	_, ok := z.rrsets[rrKey{name, dns.TypeNSEC}]
	return ok
}

// closestEncloser is the longest existing ancestor of name (RFC 5155 §1.3 uses the same
// term); the apex always exists, so the walk ends there at the latest.
func (z *Zone) closestEncloser(name string) string {
	for off, end := 0, false; !end; {
		if off, end = dns.NextLabel(name, off); !end && z.exists(name[off:]) {
			return name[off:]
		}
	}
	return z.Origin
}

// covering returns the owner of the NSEC whose interval contains name: the greatest owner
// name that sorts before it, wrapping to the last name (whose NSEC points at the apex).
func (z *Zone) covering(name string) string {
	prev := z.names[len(z.names)-1]
	for _, n := range z.names {
		if compareNames(n, name) > 0 {
			break
		}
		prev = n
	}
	return prev
}

// Live is a dns.Handler serving whichever zone was stored last, so a test can publish a
// new version of a zone (a changed record, a new key) while resolvers keep querying.
type Live struct {
	zone atomic.Pointer[Zone]
}

// NewLive returns a Live serving z.
func NewLive(z *Zone) *Live {
	l := new(Live)
	l.Store(z)
	return l
}

// Store makes z the zone served from now on.
func (l *Live) Store(z *Zone) { l.zone.Store(z) }

// ServeDNS implements dns.Handler by answering from the current zone.
func (l *Live) ServeDNS(w dns.ResponseWriter, req *dns.Msg) { l.zone.Load().ServeDNS(w, req) }

// Serve runs h (a *Zone or a *Live) over UDP and TCP on 127.0.0.1 until the test ends and
// returns the address ("127.0.0.1:port"). Both listeners are up when it returns.
func Serve(t testing.TB, h dns.Handler) string {
	t.Helper()
	pc, ln := resolvertest.Listen(t, "127.0.0.1")
	for _, srv := range []*dns.Server{
		{PacketConn: pc, Handler: h},
		{Listener: ln, Handler: h},
	} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		errc := make(chan error, 1)
		go func() { errc <- srv.ActivateAndServe() }()
		select {
		case <-started:
		case err := <-errc:
			t.Fatalf("authtest: serve %s: %v", ln.Addr(), err)
		}
		t.Cleanup(func() {
			if err := srv.Shutdown(); err != nil {
				t.Errorf("authtest: shutdown: %v", err)
			}
			<-errc
		})
	}
	return ln.Addr().String()
}
