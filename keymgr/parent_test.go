package keymgr

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestDNSParent: the default ParentDS against a real server on loopback: the DS RRset when
// published (over TCP when the UDP answer is truncated), none for NXDOMAIN or a NOERROR
// without DS, an error for SERVFAIL and for a server that does not answer.
func TestDNSParent(t *testing.T) {
	t.Parallel()
	ds := mustRR(t, "big.test. 3600 IN DS 60914 13 2 9F0B2E4C4D56C7D37F2E9E8F2B3A7C1E6D5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B")
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		switch strings.ToLower(q.Name) {
		case "big.test.":
			m.Answer = append(m.Answer, ds)
			if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
				m.Answer, m.Truncated = nil, true // as a parent whose answer does not fit
			}
		case "gone.test.":
			m.Rcode = dns.RcodeNameError
		case "broken.test.":
			m.Rcode = dns.RcodeServerFailure
		}
		_ = w.WriteMsg(m)
	})
	addr := startDNS(t, handler)
	p := DNSParent{Timeout: time.Second}
	ctx := context.Background()
	got, err := p.QueryDS(ctx, addr, "big.test.")
	if err != nil || len(got) != 1 || got[0].KeyTag != 60914 {
		t.Fatalf("QueryDS(big.test.) = %v, %v; want the DS with tag 60914 (over TCP)", got, err)
	}
	for _, zone := range []string{"gone.test.", "none.test."} {
		if got, err := p.QueryDS(ctx, addr, zone); err != nil || len(got) != 0 {
			t.Errorf("QueryDS(%s) = %v, %v; want no DS and no error", zone, got, err)
		}
	}
	if _, err := p.QueryDS(ctx, addr, "broken.test."); err == nil || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Errorf("QueryDS(broken.test.) error %v, want one naming SERVFAIL", err)
	}
	// A port nobody answers on: a UDP socket that is bound and never read.
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	p.Timeout = 200 * time.Millisecond
	if _, err := p.QueryDS(ctx, silent.LocalAddr().String(), "big.test."); err == nil {
		t.Error("QueryDS of a silent server succeeded")
	}
}

// startDNS serves h over UDP and TCP on one loopback port and returns host:port.
func startDNS(t *testing.T, h dns.Handler) string {
	t.Helper()
	for range 10 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := pc.LocalAddr().String()
		l, err := net.Listen("tcp", addr)
		if err != nil {
			pc.Close() // the TCP port is taken: try another
			continue
		}
		for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: l, Handler: h}} {
			started := make(chan struct{})
			s.NotifyStartedFunc = func() { close(started) }
			go func() { _ = s.ActivateAndServe() }()
			<-started
			t.Cleanup(func() { _ = s.Shutdown() })
		}
		return addr
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return ""
}
