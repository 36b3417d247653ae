package server

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

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

// IXFRUDP offers example.test.: it answers with the SOA alone, any other zone is not offered.
func (r *recordingTransfers) IXFRUDP(_ []byte, req *dns.Msg, _ netip.Addr) ([]byte, bool) {
	if req.Question[0].Name != "example.test." {
		return nil, false
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Answer = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "example.test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET},
		Ns: "ns.", Mbox: "h.", Serial: 7}}
	out, _ := m.Pack()
	return out, true
}

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
	// IXFR over UDP goes there for a zone it offers; for another zone the pipeline answers
	// REFUSED; AXFR over UDP is never a transfer.
	if r := exchange(t, "udp", ts.udp, ix); len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Serial != 7 {
		t.Errorf("IXFR over UDP: %v", r)
	}
	other := new(dns.Msg)
	other.SetIxfr("other.test.", 1, "ns.", "h.")
	if r := exchange(t, "udp", ts.udp, other); r.Rcode != dns.RcodeRefused {
		t.Errorf("IXFR over UDP for a zone not offered: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
	if r := exchange(t, "udp", ts.udp, ax); r.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR over UDP: %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
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

// keyedTransfers is recordingTransfers with one TSIG key.
type keyedTransfers struct{ recordingTransfers }

const testTSIGSecret = "c2lnbmV0LXNlcnZlci10ZXN0LXRzaWctc2VjcmV0IQ=="

func (k *keyedTransfers) TsigSecrets() map[string]string {
	return map[string]string{"xfr-key.": testTSIGSecret}
}

// TestSignedQueries: a query signed with a configured TSIG key is answered signed over UDP and
// TCP (the client verifies the answer's MAC); one signed with an unknown key or a bad MAC gets
// NOTAUTH. Secondaries (Knot, BIND with a server key) check the SOA this way.
func TestSignedQueries(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{Transfers: &keyedTransfers{}}, exampleZones[0])
	signed := func(key, secret string) (*dns.Msg, *dns.Client) {
		m := query("example.test.", dns.TypeSOA, true)
		m.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
		return m, &dns.Client{TsigSecret: map[string]string{key: secret}, Timeout: 2 * time.Second}
	}
	for _, netw := range []string{"udp", "tcp"} {
		m, c := signed("xfr-key.", testTSIGSecret)
		c.Net = netw
		r, _, err := c.Exchange(m, ts.udp)
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 || r.IsTsig() == nil {
			t.Fatalf("%s: signed SOA query: %v, %v", netw, r, err)
		}
		for _, bad := range []struct{ key, secret string }{
			{"other-key.", testTSIGSecret},
			{"xfr-key.", "d3Jvbmctc2VjcmV0LWZvci10aGUta2V5"},
		} {
			m, _ := signed(bad.key, bad.secret)
			r := exchangeRaw(t, netw, ts.udp, m, bad.key, bad.secret)
			if r.Rcode != dns.RcodeNotAuth {
				t.Errorf("%s: key %s: rcode %s, want NOTAUTH", netw, bad.key, dns.RcodeToString[r.Rcode])
			}
		}
	}
}

// exchangeRaw sends m signed with secret and returns the answer without checking its TSIG.
func exchangeRaw(t *testing.T, netw, addr string, m *dns.Msg, key, secret string) *dns.Msg {
	t.Helper()
	b, _, err := dns.TsigGenerate(m, secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dns.Dial(netw, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("%s: %v", netw, err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return r
}
