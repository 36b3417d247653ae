package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zones"
)

const prepZoneText = `$ORIGIN prep.test.
$TTL 3600
@ SOA ns1 hostmaster 7 7200 3600 1209600 300
@ NS ns1
ns1 A 192.0.2.1
a A 192.0.2.2
c TXT "c"
x.y.c A 192.0.2.3
*.w A 192.0.2.4
sub NS ns.sub
ns.sub A 192.0.2.5
alias CNAME nowhere
m A 192.0.2.6
`

var chainModes = map[signer.Mode]string{signer.NSEC: "nsec", signer.NSEC3: "nsec3"}

// switchKeys is a KeySource whose ring and mode a test replaces.
type switchKeys struct {
	mu   sync.Mutex
	ring *signer.KeyRing
	mode signer.Mode
	gen  atomic.Uint64
}

func (k *switchKeys) Signing(string) (*signer.KeyRing, signer.Mode, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ring, k.mode, true
}
func (k *switchKeys) Generation() uint64 { return k.gen.Load() }
func (k *switchKeys) set(r *signer.KeyRing, m signer.Mode) {
	k.mu.Lock()
	k.ring, k.mode = r, m
	k.mu.Unlock()
	k.gen.Add(1)
}

// signOnly hides the signer's Preparer side: a handler with it answers everything through Sign.
type signOnly struct{ s *signer.Signer }

func (o signOnly) Sign(m *dns.Msg, in *signer.Input, r *signer.KeyRing, now time.Time) error {
	return o.s.Sign(m, in, r, now)
}

func prepRing(t *testing.T, now time.Time) (*signer.KeyRing, *dns.DNSKEY) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := signer.NewDNSKEY("prep.test.", 257, dns.ECDSAP256SHA256, priv.Public(), 3600)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := signer.NewKeyRing("prep.test.", []*signer.Key{signer.NewKey(dk, priv, true)}, signer.RingOptions{}, now, signer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return ring, dk
}

func prepZone(t *testing.T, extra string) *zones.Zone {
	t.Helper()
	z, err := zones.Parse(strings.NewReader(prepZoneText+extra), "prep.test.", "prep.test.zone", zones.Options{MaxTTL: zones.MaxSignedTTL})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

type prepFixture struct {
	store      *zones.Store
	keys       *switchKeys
	prep, full *Handler
	now        atomic.Int64 // Unix seconds
	dnskey     *dns.DNSKEY
}

func newPrepFixture(t *testing.T, mode signer.Mode) *prepFixture {
	f := &prepFixture{store: zones.NewStore(), keys: &switchKeys{}}
	f.now.Store(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix())
	clock := func() time.Time { return time.Unix(f.now.Load(), 0) }
	f.store.Set(prepZone(t, ""))
	var ring *signer.KeyRing
	ring, f.dnskey = prepRing(t, clock())
	f.keys.set(ring, mode)
	s := signer.New(signer.Config{})
	cfg := Config{Logger: quietLogger(), Now: clock}
	f.prep = NewHandler(f.store, f.keys, s, cfg, nil)
	f.full = NewHandler(f.store, f.keys, signOnly{s}, cfg, nil)
	return f
}

func packed(t *testing.T, name string, qtype uint16, do bool) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 4242
	m.RecursionDesired = true
	m.CheckingDisabled = true
	m.SetEdns0(1232, do)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// prepared runs the prepared path alone on a query; nil when it declines.
func (f *prepFixture) prepared(t *testing.T, in []byte) *dns.Msg {
	t.Helper()
	var q fastQuery
	if !f.prep.cacheKey(in, &q) {
		t.Fatal("query not parsed by the packet cache")
	}
	resp := f.prep.preparedUDP(in, make([]byte, 0, 4096), &q, f.prep.cfg.Now())
	if resp == nil {
		return nil
	}
	m := new(dns.Msg)
	if err := m.Unpack(resp); err != nil {
		t.Fatalf("prepared answer does not unpack: %v", err)
	}
	return m
}

func (f *prepFixture) viaFull(t *testing.T, in []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(f.full.ServeUDP(in, make([]byte, 0, 4096))); err != nil {
		t.Fatal(err)
	}
	return m
}

func sameMsg(t *testing.T, what string, got, want *dns.Msg) {
	t.Helper()
	if got.MsgHdr != want.MsgHdr {
		t.Errorf("%s: header\n got %+v\nwant %+v", what, got.MsgHdr, want.MsgHdr)
	}
	for _, s := range []struct {
		name      string
		got, want []dns.RR
	}{{"answer", got.Answer, want.Answer}, {"authority", got.Ns, want.Ns}, {"additional", got.Extra, want.Extra}} {
		if g, w := rrStrings(s.got), rrStrings(s.want); !slices.Equal(g, w) {
			t.Errorf("%s: %s\n got %q\nwant %q", what, s.name, g, w)
		}
	}
	if len(got.Question) != 1 || got.Question[0] != want.Question[0] {
		t.Errorf("%s: question %v, want %v", what, got.Question, want.Question)
	}
}

// verifyDenial checks every RRSIG of the authority section against key, over the RRset as the
// answer carries it: the wire pieces hold what was signed.
func verifyDenial(t *testing.T, what string, m *dns.Msg, key *dns.DNSKEY, now time.Time) {
	t.Helper()
	sigs := 0
	for _, rr := range m.Ns {
		sig, ok := rr.(*dns.RRSIG)
		if !ok {
			continue
		}
		sigs++
		var set []dns.RR
		for _, r := range m.Ns {
			if h := r.Header(); h.Rrtype == sig.TypeCovered && strings.EqualFold(h.Name, sig.Hdr.Name) {
				set = append(set, r)
			}
		}
		if sig.KeyTag != key.KeyTag() {
			t.Errorf("%s: RRSIG %s by key %d, want %d", what, dns.TypeToString[sig.TypeCovered], sig.KeyTag, key.KeyTag())
			continue
		}
		if err := sig.Verify(key, set); err != nil {
			t.Errorf("%s: RRSIG over %s %s does not verify: %v", what, sig.Hdr.Name, dns.TypeToString[sig.TypeCovered], err)
		}
		if !sig.ValidityPeriod(now) {
			t.Errorf("%s: RRSIG over %s not valid at %v", what, sig.Hdr.Name, now)
		}
	}
	if sigs == 0 {
		t.Errorf("%s: no RRSIG in %v", what, m)
	}
}

// TestPreparedNXDomainMatchesSign: in NSEC and NSEC3 mode the prepared answer for a missing
// name holds exactly what the full path (Sign, then packing) gives, its signatures verify,
// and it declines what it must leave to the full path.
func TestPreparedNXDomainMatchesSign(t *testing.T) {
	for _, mode := range []signer.Mode{signer.NSEC, signer.NSEC3} {
		t.Run(chainModes[mode], func(t *testing.T) {
			t.Parallel()
			f := newPrepFixture(t, mode)
			now := f.prep.cfg.Now()
			missing := []string{"b.prep.test.", "zz.prep.test.", "0.prep.test.", "q.x.y.c.prep.test.", "d.c.prep.test.",
				"n1.y.c.prep.test.", "M1.prep.test.", "a-b_c.prep.test."}
			for _, name := range missing {
				in := packed(t, name, dns.TypeA, true)
				if m := f.prepared(t, in); m != nil && mode == signer.NSEC3 && name == missing[0] {
					t.Fatalf("%s: prepared before any link was signed: %v", name, m)
				}
				want := f.viaFull(t, in) // signs the links, which the prepared path then finds
				if want.Rcode != dns.RcodeNameError {
					t.Fatalf("%s: full path rcode %s", name, dns.RcodeToString[want.Rcode])
				}
				got := f.prepared(t, in)
				if got == nil {
					t.Fatalf("%s: prepared path declined after the links were signed", name)
				}
				sameMsg(t, name, got, want)
				verifyDenial(t, name, got, f.dnskey, now)
			}
			// Left to the full path: an existing name, NODATA, a wildcard, a referral, a
			// CNAME to a missing name, no DO, an upper-case zone part, DS, ANY.
			for _, c := range []struct {
				name  string
				qtype uint16
				do    bool
			}{
				{"a.prep.test.", dns.TypeA, true}, {"a.prep.test.", dns.TypeMX, true}, {"v.w.prep.test.", dns.TypeA, true},
				{"x.sub.prep.test.", dns.TypeA, true}, {"alias.prep.test.", dns.TypeA, true}, {"b.prep.test.", dns.TypeA, false},
				{"b.PREP.test.", dns.TypeA, true}, {"b.prep.test.", dns.TypeDS, true}, {"b.prep.test.", dns.TypeANY, true},
				{"b\\.b.prep.test.", dns.TypeA, true},
			} {
				if m := f.prepared(t, packed(t, c.name, c.qtype, c.do)); m != nil {
					t.Errorf("%s %s do=%v: prepared answer %v, want the full path", c.name, dns.TypeToString[c.qtype], c.do, m)
				}
			}
		})
	}
}

// TestPreparedNeverOld: the prepared path never serves pieces made with an old ring, an old
// zone snapshot, or signatures past their refresh time.
func TestPreparedNeverOld(t *testing.T) {
	for _, mode := range []signer.Mode{signer.NSEC, signer.NSEC3} {
		t.Run(chainModes[mode], func(t *testing.T) {
			t.Parallel()
			f := newPrepFixture(t, mode)
			in := packed(t, "b.prep.test.", dns.TypeA, true)
			f.viaFull(t, in)
			if f.prepared(t, in) == nil {
				t.Fatal("not prepared after warm-up")
			}

			// A new ring: nothing of the old one's is served; once its links are signed,
			// answers carry its key only.
			ring, key := prepRing(t, f.prep.cfg.Now())
			f.keys.set(ring, mode)
			if m := f.prepared(t, in); m != nil {
				t.Fatalf("prepared with the old ring's pieces after a ring change: %v", m)
			}
			f.viaFull(t, in)
			m := f.prepared(t, in)
			if m == nil {
				t.Fatal("not prepared with the new ring")
			}
			verifyDenial(t, "new ring", m, key, f.prep.cfg.Now())

			// A new zone snapshot where b exists: b is an answer, and another name's denial
			// matches the new chain.
			f.store.Set(prepZone(t, "b A 192.0.2.9\n"))
			if m := f.prepared(t, in); m != nil {
				t.Fatalf("prepared NXDOMAIN for a name the new snapshot holds: %v", m)
			}
			in2 := packed(t, "bb.prep.test.", dns.TypeA, true)
			want := f.viaFull(t, in2)
			got := f.prepared(t, in2)
			if got == nil {
				t.Fatal("not prepared on the new snapshot")
			}
			sameMsg(t, "new snapshot", got, want)

			// Past the refresh time of the signatures: declined until the full path re-signs.
			f.now.Add(int64((signer.DefaultValidity - signer.DefaultRefresh + time.Hour) / time.Second))
			if m := f.prepared(t, in2); m != nil {
				t.Fatalf("prepared with signatures past their refresh time: %v", m)
			}
			want = f.viaFull(t, in2)
			got = f.prepared(t, in2)
			if got == nil {
				t.Fatal("not prepared after re-signing")
			}
			sameMsg(t, "re-signed", got, want)
			verifyDenial(t, "re-signed", got, key, f.prep.cfg.Now())
		})
	}
}

// TestPreparedThroughServePacket: ServeUDP answers never-seen missing names in NSEC mode from
// the prepared pieces (a whole zone's links signed once, then no signature per name).
func TestPreparedThroughServePacket(t *testing.T) {
	f := newPrepFixture(t, signer.NSEC)
	s := f.prep.signer.(*signer.Signer)
	for i := range 200 {
		m := new(dns.Msg)
		if err := m.Unpack(f.prep.ServeUDP(packed(t, fmt.Sprintf("r%d.prep.test.", i), dns.TypeA, true), nil)); err != nil {
			t.Fatal(err)
		}
		if m.Rcode != dns.RcodeNameError || len(m.Ns) < 4 {
			t.Fatalf("r%d: %v", i, m)
		}
	}
	// The links that cover r0..r199 and the wildcard at the apex: a handful of signatures.
	if made := s.Stats().Signatures[dns.ECDSAP256SHA256]; made > 6 {
		t.Errorf("%d signatures made for 200 missing names", made)
	}
}

// TestPreparedConcurrent: readers answering from the prepared pieces while the ring changes
// under them (run it with -race): every answer is a whole NXDOMAIN whose signatures verify with
// one of the two rings' keys.
func TestPreparedConcurrent(t *testing.T) {
	f := newPrepFixture(t, signer.NSEC)
	ring2, key2 := prepRing(t, f.prep.cfg.Now())
	keys := []*dns.DNSKEY{f.dnskey, key2}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 4 {
		wg.Go(func() {
			for i := range 150 {
				if g == 0 && i == 50 {
					f.keys.set(ring2, signer.NSEC)
				}
				m := new(dns.Msg)
				if err := m.Unpack(f.prep.ServeUDP(packed(t, fmt.Sprintf("g%d-%d.prep.test.", g, i), dns.TypeA, true), nil)); err != nil {
					errs <- err.Error()
					return
				}
				if m.Rcode != dns.RcodeNameError || len(m.Ns) != 6 {
					errs <- fmt.Sprintf("g%d-%d: %v", g, i, m)
					return
				}
				for _, rr := range m.Ns {
					sig, ok := rr.(*dns.RRSIG)
					if !ok {
						continue
					}
					var set []dns.RR
					for _, r := range m.Ns {
						if r.Header().Rrtype == sig.TypeCovered && r.Header().Name == sig.Hdr.Name {
							set = append(set, r)
						}
					}
					k := keys[0]
					if sig.KeyTag == keys[1].KeyTag() {
						k = keys[1]
					}
					if err := sig.Verify(k, set); err != nil {
						errs <- fmt.Sprintf("g%d-%d: %s RRSIG: %v", g, i, dns.TypeToString[sig.TypeCovered], err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
