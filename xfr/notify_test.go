package xfr

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func notifyMsg(t *testing.T, zone string, key *Key) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetNotify(zone)
	if key == nil {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	m.SetTsig(key.Name, key.Algorithm, 300, time.Now().Unix())
	b, _, err := dns.TsigGenerate(m, key.Secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNotify: a NOTIFY triggers a refresh only when it comes from a primary with the zone's
// TSIG key; the answer to a signed NOTIFY is signed.
func TestNotify(t *testing.T) {
	t.Parallel()
	p := &primary{addr: "127.0.0.1:53"}
	s := newSecondary(t, p, testKey, t.TempDir(), nil)
	svc := NewService(nil, nil, []*Secondary{s}, nil)
	fromPrimary := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	other := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 40000}
	wrong := &Key{Name: "xfr-key.", Algorithm: dns.HmacSHA256, Secret: "d3Jvbmctc2VjcmV0"}
	for _, c := range []struct {
		name    string
		zone    string
		key     *Key
		from    net.Addr
		rcode   int
		refresh bool
	}{
		{"signed, from the primary", "sec.test.", testKey, fromPrimary, dns.RcodeSuccess, true},
		{"any case", "SEC.Test.", testKey, fromPrimary, dns.RcodeSuccess, true},
		{"unsigned", "sec.test.", nil, fromPrimary, dns.RcodeNotAuth, false},
		{"wrong secret", "sec.test.", wrong, fromPrimary, dns.RcodeNotAuth, false},
		{"from elsewhere", "sec.test.", testKey, other, dns.RcodeRefused, false},
		{"another zone", "other.test.", testKey, fromPrimary, dns.RcodeNotAuth, false},
	} {
		out := svc.NotifyUDP(notifyMsg(t, c.zone, c.key), c.from)
		r := new(dns.Msg)
		if err := r.Unpack(out); err != nil {
			t.Fatalf("%s: response: %v", c.name, err)
		}
		if r.Rcode != c.rcode || r.Opcode != dns.OpcodeNotify || !r.Response {
			t.Errorf("%s: rcode %s opcode %d, want %s", c.name, dns.RcodeToString[r.Rcode], r.Opcode, dns.RcodeToString[c.rcode])
		}
		if c.rcode == dns.RcodeSuccess {
			if r.IsTsig() == nil {
				t.Errorf("%s: the answer is not signed", c.name)
			} else if err := dns.TsigVerify(out, testKey.Secret, "", false); err == nil {
				// Verifying without the request MAC must fail: the answer's MAC covers it.
				t.Errorf("%s: the answer's TSIG does not cover the request MAC", c.name)
			}
		}
		got := false
		select {
		case <-s.notify:
			got = true
		default:
		}
		if got != c.refresh {
			t.Errorf("%s: refresh triggered = %v, want %v", c.name, got, c.refresh)
		}
	}
}

// TestNotifyOverTCP: a signed NOTIFY over TCP is verified by the server's TSIG handling and
// answered signed (the client checks the answer's TSIG); an unsigned one is NOTAUTH.
func TestNotifyOverTCP(t *testing.T) {
	t.Parallel()
	s := newSecondary(t, &primary{addr: "127.0.0.1:53"}, testKey, t.TempDir(), nil)
	addr := serveService(t, NewService(nil, nil, []*Secondary{s}, nil))
	m := new(dns.Msg)
	m.SetNotify("sec.test.")
	m.SetTsig(testKey.Name, testKey.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", TsigSecret: secrets(testKey), Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess || r.IsTsig() == nil {
		t.Fatalf("signed NOTIFY over TCP: %v %v", r, err)
	}
	select {
	case <-s.notify:
	default:
		t.Fatal("no refresh triggered")
	}
	u := new(dns.Msg)
	u.SetNotify("sec.test.")
	r, _, err = (&dns.Client{Net: "tcp", Timeout: 2 * time.Second}).Exchange(u, addr)
	if err != nil || r.Rcode != dns.RcodeNotAuth {
		t.Fatalf("unsigned NOTIFY over TCP: %v %v", r, err)
	}
}
