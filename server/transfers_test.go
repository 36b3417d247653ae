package server

import (
	"net"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/zones"
)

type unavailable string

func (u unavailable) LoadZone(zones.Options) (*zones.Zone, error) {
	return zones.Unavailable(string(u)), nil
}

// TestUnavailableZoneIsServfail: a configured zone without data (a secondary not transferred
// yet, or expired) answers SERVFAIL, not REFUSED and not its parent's referral.
func TestUnavailableZoneIsServfail(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{}, exampleZones[0])
	if err := ts.zs.AddLoader("signed.example.test.", "test", unavailable("signed.example.test.")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"signed.example.test.", "www.signed.example.test."} {
		for _, netw := range []string{"udp", "tcp"} {
			if r := exchange(t, netw, ts.udp, query(name, dns.TypeA, true)); r.Rcode != dns.RcodeServerFailure {
				t.Errorf("%s %s: %s, want SERVFAIL", netw, name, dns.RcodeToString[r.Rcode])
			}
		}
	}
	if r := exchange(t, "udp", ts.udp, query("www.example.test.", dns.TypeA, false)); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Errorf("the parent zone: %v", r)
	}
}

// recordingTransfers answers every NOTIFY with NOERROR and every TCP request with REFUSED,
// noting what came.
type recordingTransfers struct {
	mu   sync.Mutex
	udp  []net.Addr
	tcp  []uint16
	seen []int // opcodes over TCP
}

func (r *recordingTransfers) NotifyUDP(raw []byte, from net.Addr) []byte {
	r.mu.Lock()
	r.udp = append(r.udp, from)
	r.mu.Unlock()
	req := new(dns.Msg)
	if req.Unpack(raw) != nil {
		return nil
	}
	m := new(dns.Msg)
	m.SetReply(req)
	out, _ := m.Pack()
	return out
}

func (r *recordingTransfers) ServeTCP(w dns.ResponseWriter, req *dns.Msg) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Opcode)
	if len(req.Question) == 1 {
		r.tcp = append(r.tcp, req.Question[0].Qtype)
	}
	r.mu.Unlock()
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeRefused)
	w.WriteMsg(m)
}

func (r *recordingTransfers) TsigSecrets() map[string]string { return nil }

// TestTransfersHook: NOTIFY over UDP reaches Transfers with the sender's address; NOTIFY,
// AXFR and IXFR over TCP reach it too; without Transfers NOTIFY is NOTIMP.
func TestTransfersHook(t *testing.T) {
	t.Parallel()
	plain := startServer(t, Config{}, exampleZones[0])
	n := new(dns.Msg)
	n.SetNotify("example.test.")
	if r := exchange(t, "udp", plain.udp, n); r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY without Transfers: %s, want NOTIMP", dns.RcodeToString[r.Rcode])
	}

	rec := &recordingTransfers{}
	ts := startServer(t, Config{Transfers: rec}, exampleZones[0])
	if r := exchange(t, "udp", ts.udp, n); r.Rcode != dns.RcodeSuccess || r.Opcode != dns.OpcodeNotify {
		t.Errorf("NOTIFY over UDP: %v", r)
	}
	exchange(t, "tcp", ts.tcp, n)
	ax := new(dns.Msg)
	ax.SetAxfr("example.test.")
	exchange(t, "tcp", ts.tcp, ax)
	ix := new(dns.Msg)
	ix.SetIxfr("example.test.", 1, "ns.", "h.")
	exchange(t, "tcp", ts.tcp, ix)
	// An ordinary query over TCP does not go there.
	if r := exchange(t, "tcp", ts.tcp, query("www.example.test.", dns.TypeA, false)); len(r.Answer) == 0 {
		t.Errorf("query over TCP: %v", r)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.udp) != 1 || rec.udp[0].(*net.UDPAddr).IP.String() != "127.0.0.1" {
		t.Errorf("UDP NOTIFY senders: %v", rec.udp)
	}
	if len(rec.seen) != 3 || rec.seen[0] != dns.OpcodeNotify || rec.tcp[1] != dns.TypeAXFR || rec.tcp[2] != dns.TypeIXFR {
		t.Errorf("over TCP: opcodes %v qtypes %v", rec.seen, rec.tcp)
	}
}
