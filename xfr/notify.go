package xfr

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Service answers what primaries and secondaries send a server besides queries: NOTIFY
// (RFC 1996) for the secondary zones, AXFR and IXFR for the zones offered to secondaries. It
// implements the server's transfer hook.
type Service struct {
	log         *slog.Logger
	secondaries map[string]*Secondary // by origin
	outgoing    map[string]*Outgoing  // by origin
	keys        map[string]*Key       // by name
	metrics     *Metrics
}

// NewService returns a Service for the given secondary zones and zones offered; m (may be nil)
// counts the transfer requests it refuses.
func NewService(log *slog.Logger, m *Metrics, secondaries []*Secondary, outgoing []*Outgoing) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{log: log, metrics: m, secondaries: map[string]*Secondary{}, outgoing: map[string]*Outgoing{}, keys: map[string]*Key{}}
	for _, sec := range secondaries {
		s.secondaries[sec.Origin()] = sec
		if k := sec.Key(); k != nil {
			s.keys[k.Name] = k
		}
	}
	for _, o := range outgoing {
		s.outgoing[o.Origin()] = o
		if k := o.Key(); k != nil {
			s.keys[k.Name] = k
		}
	}
	return s
}

// TsigSecrets returns the TSIG secrets by key name, for the TCP server that verifies requests
// and signs responses.
func (s *Service) TsigSecrets() map[string]string {
	m := make(map[string]string, len(s.keys))
	for n, k := range s.keys {
		m[n] = k.Secret
	}
	return m
}

// NotifyUDP answers a NOTIFY that came over UDP. raw is the message as received: a TSIG covers
// those exact bytes. It returns the packed response, or nil when nothing must be sent.
func (s *Service) NotifyUDP(raw []byte, from net.Addr) []byte {
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil || req.Response {
		return nil
	}
	key, tsigErr := s.verifyUDP(raw, req)
	return s.packUDP(s.notify(req, addrOf(from), tsigErr), req, key, tsigErr)
}

// verifyUDP checks the TSIG of a request that came over UDP (the TCP server checks its own):
// it returns the request's key, if known, and the verification error (nil without a TSIG).
func (s *Service) verifyUDP(raw []byte, req *dns.Msg) (*Key, error) {
	t := req.IsTsig()
	if t == nil {
		return nil, nil
	}
	key := s.keys[dns.CanonicalName(t.Hdr.Name)]
	if key == nil {
		return nil, dns.ErrSecret
	}
	return key, dns.TsigVerify(raw, key.Secret, "", false)
}

// packUDP packs the response m to req, signed with key when req was signed with it and
// verified; nil when it cannot be packed or signed.
func (s *Service) packUDP(m, req *dns.Msg, key *Key, tsigErr error) []byte {
	if t := req.IsTsig(); t != nil && tsigErr == nil && key != nil {
		m.SetTsig(key.Name, key.Algorithm, 300, time.Now().Unix())
		out, _, err := dns.TsigGenerate(m, key.Secret, t.MAC, false)
		if err != nil {
			s.log.Warn("signing a response over UDP failed", "err", err)
			return nil
		}
		return out
	}
	out, err := m.Pack()
	if err != nil {
		return nil
	}
	return out
}

// IXFRUDP answers an IXFR that came over UDP for a zone offered here: with the current SOA
// alone (RFC 1995 §2: what does not fit in a UDP message is replaced by the SOA, telling the
// client to ask over TCP). A client that is current learns it is up to date; one that is
// behind sees a newer serial and retries over TCP, as BIND and Knot secondaries do. The
// transfer ACL applies as over TCP. It returns false for a zone not offered.
func (s *Service) IXFRUDP(raw []byte, req *dns.Msg, from netip.Addr) ([]byte, bool) {
	origin := strings.ToLower(dns.Fqdn(req.Question[0].Name))
	o := s.outgoing[origin]
	if o == nil || req.Question[0].Qclass != dns.ClassINET {
		return nil, false
	}
	key, tsigErr := s.verifyUDP(raw, req)
	m := new(dns.Msg)
	m.SetReply(req)
	if e := req.IsEdns0(); e != nil {
		m.SetEdns0(dns.MinMsgSize, false)
	}
	if ok, why := o.allowed(from, req, tsigErr); !ok {
		s.log.Warn("zone transfer refused", "zone", origin, "from", from, "transport", "udp", "reason", why)
		s.metrics.served(origin, "refused")
		m.Rcode = dns.RcodeRefused
		withEDE(m, req, dns.ExtendedErrorCodeProhibited)
		return s.packUDP(m, req, key, tsigErr), true
	}
	o.mu.RLock()
	cur := o.cur
	o.mu.RUnlock()
	if cur == nil {
		m.Rcode = dns.RcodeServerFailure
		s.metrics.served(origin, "failed")
		return s.packUDP(m, req, key, tsigErr), true
	}
	m.Authoritative = true
	m.Answer = []dns.RR{cur[0]}
	outcome := "udp_soa"
	if seq, _ := o.ixfrAnswer(req, cur, nil); len(seq) == 1 {
		outcome = "uptodate"
	}
	s.metrics.served(origin, outcome)
	return s.packUDP(m, req, key, tsigErr), true
}

// ServeTCP answers a NOTIFY, AXFR or IXFR that came over TCP; the server verified its TSIG
// (w.TsigStatus) and signs what is written with WriteMsg.
func (s *Service) ServeTCP(w dns.ResponseWriter, req *dns.Msg) {
	if req.Opcode == dns.OpcodeQuery && len(req.Question) == 1 {
		s.serveTransfer(w, req)
		return
	}
	var m *dns.Msg
	if req.Opcode == dns.OpcodeNotify {
		var tsigErr error
		if req.IsTsig() != nil {
			tsigErr = w.TsigStatus()
		}
		m = s.notify(req, addrOf(w.RemoteAddr()), tsigErr)
	} else {
		m = new(dns.Msg)
		m.SetRcode(req, dns.RcodeRefused)
	}
	if t := req.IsTsig(); t != nil && w.TsigStatus() == nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
	}
	w.WriteMsg(m)
}

// notify checks a NOTIFY (RFC 1996 §3.10: only from the zone's primaries; with its TSIG key when
// it has one) and triggers a refresh.
func (s *Service) notify(req *dns.Msg, from netip.Addr, tsigErr error) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(req)
	if len(req.Question) != 1 || req.Question[0].Qclass != dns.ClassINET {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	origin := strings.ToLower(dns.Fqdn(req.Question[0].Name))
	sec := s.secondaries[origin]
	if sec == nil {
		s.log.Info("NOTIFY for a zone that is not a secondary here", "zone", origin, "from", from)
		m.Rcode = dns.RcodeNotAuth
		return m
	}
	if !sec.fromPrimary(from) {
		s.log.Warn("NOTIFY refused: not from a primary of the zone", "zone", origin, "from", from)
		m.Rcode = dns.RcodeRefused
		return m
	}
	if k := sec.Key(); k != nil {
		t := req.IsTsig()
		switch {
		case t == nil:
			s.log.Warn("NOTIFY refused: no TSIG, the zone requires key "+k.Name, "zone", origin, "from", from)
			m.Rcode = dns.RcodeNotAuth
			return m
		case dns.CanonicalName(t.Hdr.Name) != k.Name || tsigErr != nil:
			s.log.Warn("NOTIFY refused: bad TSIG", "zone", origin, "from", from, "key", t.Hdr.Name, "err", tsigErr)
			m.Rcode = dns.RcodeNotAuth
			return m
		}
	}
	m.Authoritative = true
	s.log.Info("NOTIFY received; refreshing", "zone", origin, "from", from)
	sec.Notify()
	return m
}

// fromPrimary reports whether addr is the address of one of the zone's primaries (RFC 1996
// §3.10; the port is the sender's, not the primary's listening port).
func (s *Secondary) fromPrimary(addr netip.Addr) bool {
	for _, p := range s.cfg.Primaries {
		host, _, err := net.SplitHostPort(p)
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(host); err == nil && a.Unmap() == addr.Unmap() {
			return true
		}
		// A primary named by host name: accept the addresses it resolves to.
		if ips, err := net.LookupIP(host); err == nil {
			for _, ip := range ips {
				if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap() == addr.Unmap() {
					return true
				}
			}
		}
	}
	return false
}

func addrOf(a net.Addr) netip.Addr {
	switch v := a.(type) {
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(v.IP)
		return ip.Unmap()
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(v.IP)
		return ip.Unmap()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}
