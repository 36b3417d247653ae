package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

// failSigner fails every signature with an error that names a secret, which must reach the
// log only, never an answer.
type failSigner struct{}

func (failSigner) Sign(*dns.Msg, *signer.Input, *signer.KeyRing, time.Time) error {
	return errors.New("TPM handle 0x81000001 refused key /var/lib/signet/keys/secret-ksk")
}

// edeHandler serves example.test. (signed by failSigner), a secondary waiting for its first
// transfer and an expired one.
func edeHandler(t *testing.T, m *Metrics) *Handler {
	t.Helper()
	st := zones.NewStore()
	z, err := zones.Load("example.test.", "../testdata/example.test.zone", zones.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Set(z)
	st.Set(zones.Failed("waiting.test.", textNotReady))
	st.Set(zones.Expired("expired.test.", textExpired))
	ring := testRing(t)
	return NewHandler(st, oneRing{ring}, failSigner{}, Config{Logger: quietLogger(), PacketCacheSize: -1}, m)
}

const (
	textNotReady = "secondary zone not transferred yet"
	textExpired  = "secondary zone expired: no primary answered within the SOA expire time"
)

func ede(r *dns.Msg) (*dns.EDNS0_EDE, int) {
	opt := r.IsEdns0()
	if opt == nil {
		return nil, 0
	}
	var found *dns.EDNS0_EDE
	n := 0
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			found = e
			n++
		}
	}
	return found, n
}

func TestExtendedErrors(t *testing.T) {
	m := NewMetrics(nil)
	h := edeHandler(t, m)
	notify := func(q *dns.Msg) { q.Opcode = dns.OpcodeNotify }
	chaosClass := func(q *dns.Msg) { q.Question[0].Qclass = dns.ClassHESIOD }
	withDO := func(q *dns.Msg) { q.IsEdns0().SetDo() }
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		change func(*dns.Msg)
		rcode  int
		code   uint16
		text   string
	}{
		{"name outside every zone", "www.example.org.", dns.TypeA, nil, dns.RcodeRefused, dns.ExtendedErrorCodeNotAuthoritative, ""},
		{"class not served", "www.example.test.", dns.TypeA, chaosClass, dns.RcodeRefused, dns.ExtendedErrorCodeNotAuthoritative, ""},
		{"AXFR over the query path", "example.test.", dns.TypeAXFR, nil, dns.RcodeRefused, dns.ExtendedErrorCodeNotSupported, ""},
		{"NXNAME query", "www.example.test.", signer.TypeNXNAME, nil, dns.RcodeFormatError, dns.ExtendedErrorCodeInvalidQueryType, ""},
		{"TKEY query", "www.example.test.", dns.TypeTKEY, nil, dns.RcodeNotImplemented, dns.ExtendedErrorCodeNotSupported, ""},
		{"opcode not served", "www.example.test.", dns.TypeA, notify, dns.RcodeNotImplemented, dns.ExtendedErrorCodeNotSupported, ""},
		{"secondary not loaded yet", "www.waiting.test.", dns.TypeA, nil, dns.RcodeServerFailure, dns.ExtendedErrorCodeNotReady, textNotReady},
		{"secondary expired", "www.expired.test.", dns.TypeA, nil, dns.RcodeServerFailure, dns.ExtendedErrorCodeNoReachableAuthority, textExpired},
		{"signing failed", "www.example.test.", dns.TypeA, withDO, dns.RcodeServerFailure, dns.ExtendedErrorCodeOther, edeTextSigning},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, edns := range []bool{true, false} {
				q := query(tc.qname, tc.qtype, edns)
				if tc.change != nil && (edns || tc.name != "signing failed") {
					tc.change(q)
				}
				r := serve(t, h, q)
				if r.Rcode != tc.rcode {
					t.Fatalf("edns=%v: rcode %s, want %s", edns, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				e, n := ede(r)
				if !edns {
					if r.IsEdns0() != nil || e != nil {
						t.Errorf("no EDNS in the query, yet the answer has an OPT: %v", r)
					}
					continue
				}
				if n != 1 || e.InfoCode != tc.code || e.ExtraText != tc.text {
					t.Fatalf("EDE %v (%d options), want code %d text %q\n%v", e, n, tc.code, tc.text, r)
				}
				if strings.Contains(r.String(), "secret") || strings.Contains(r.String(), "0x81") {
					t.Errorf("the answer leaks the signing error: %v", r)
				}
			}
		})
	}
	if got := testutilCounter(m.edeByCode[dns.ExtendedErrorCodeNotAuthoritative]); got != 2 {
		t.Errorf("signet_extended_errors_total{code=20} = %v, want 2", got)
	}
	if got := testutilCounter(m.edeByCode[dns.ExtendedErrorCodeOther]); got != 1 {
		t.Errorf("signet_extended_errors_total{code=0} = %v, want 1", got)
	}
	// A plain answer carries no EDE.
	plain := NewHandler(h.zones, nil, nil, Config{Logger: quietLogger()}, nil)
	if r := serve(t, plain, query("www.example.test.", dns.TypeA, true)); r.Rcode != dns.RcodeSuccess {
		t.Errorf("unsigned answer: %v", r)
	} else if e, _ := ede(r); e != nil {
		t.Errorf("EDE %v on a good answer", e)
	}
}

// serve runs a query through the handler's UDP path and unpacks the answer.
func serve(t *testing.T, h *Handler, q *dns.Msg) *dns.Msg {
	t.Helper()
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	out := h.ServeUDP(b, make([]byte, 0, 4096))
	r := new(dns.Msg)
	if err := r.Unpack(out); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	return r
}
