package server

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

// holdKeys signs nothing and withholds the zones a test names, as a cluster member's key
// manager does for a zone whose ring stayed behind.
type holdKeys struct {
	gen  atomic.Uint64
	held atomic.Pointer[string]
}

func (k *holdKeys) Signing(string) (*signer.KeyRing, signer.Mode, bool) { return nil, 0, false }
func (k *holdKeys) Generation() uint64                                  { return k.gen.Load() }
func (k *holdKeys) Held(zone string) (string, bool) {
	if p := k.held.Load(); p != nil && zone == "example.test." {
		return *p, true
	}
	return "", false
}
func (k *holdKeys) hold(why *string) { k.held.Store(why); k.gen.Add(1) }

// TestHeldZone: a zone its keys withhold answers SERVFAIL with EDE 14 (Not Ready) and the
// reason, even when the packet cache holds a good answer, and answers again once released;
// another zone is not affected.
func TestHeldZone(t *testing.T) {
	st := zones.NewStore()
	z, err := zones.Load("example.test.", "../testdata/example.test.zone", zones.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Set(z)
	other, err := zones.Parse(strings.NewReader("$TTL 300\n@ SOA ns.other.test. h.other.test. 1 3600 600 86400 300\n@ NS ns\nns A 192.0.2.9\nwww A 192.0.2.10\n"),
		"other.test.", "other.test.zone", zones.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Set(other)
	keys := &holdKeys{}
	m := NewMetrics(nil)
	h := NewHandler(st, keys, nil, Config{Logger: quietLogger()}, m)
	ask := func(name string) *dns.Msg { return serve(t, h, query(name, dns.TypeA, true)) }
	if r := ask("www.example.test."); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Fatalf("before the hold: %v", r)
	}
	why := "key ring behind the cluster's: ask another name server"
	keys.hold(&why)
	r := ask("www.example.test.")
	e, n := ede(r)
	if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 || n != 1 || e.InfoCode != dns.ExtendedErrorCodeNotReady || e.ExtraText != why {
		t.Fatalf("held zone: rcode %s, EDE %v (%d), want SERVFAIL, EDE 14 %q\n%v", dns.RcodeToString[r.Rcode], e, n, why, r)
	}
	if r := ask("www.other.test."); r.Rcode != dns.RcodeSuccess {
		t.Errorf("another zone while one is held: %v", r)
	}
	keys.hold(nil)
	if r := ask("www.example.test."); r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		t.Fatalf("after the hold: %v", r)
	}
}
