package signer

import (
	"errors"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/dnsname"
)

func TestSiblings(t *testing.T) {
	for _, tc := range []struct{ name, before, after string }{
		{"m.example.", `l` + repeat(`\255`, 62) + `.example.`, `m\000.example.`},
		{"[.example.", `\@` + repeat(`\255`, 62) + `.example.`, `[\000.example.`},
		{`\000.example.`, "", `\000\000.example.`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, ok := siblingBefore(tc.name)
			if tc.before == "" {
				if ok {
					t.Errorf("siblingBefore = %s, want none", b)
				}
			} else if b != tc.before || dnsname.Compare(b, tc.name) >= 0 {
				t.Errorf("siblingBefore = %s, want %s", b, tc.before)
			}
			a, ok := siblingAfter(tc.name)
			if !ok || a != tc.after || dnsname.Compare(a, "x."+tc.name) <= 0 {
				t.Errorf("siblingAfter = %s (%v), want %s after every descendant", a, ok, tc.after)
			}
		})
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// TestWhiteLiesNoRoomFallsBack: "\000.a.example." is the immediate successor of a.example.;
// no NSEC owner fits between them, so the answer is a black-lies NODATA, still validating.
func TestWhiteLiesNoRoomFallsBack(t *testing.T) {
	ring := testRing(t, RingOptions{})
	q := qNX
	q.qname = `\000.a.example.`
	q.in = func(in *Input) { in.ClosestEncloser = "a.example." }
	m, in := q.build(t, WhiteLies, true)
	if err := New(Config{}).Sign(m, in, ring, t0); err != nil {
		t.Fatal(err)
	}
	verifyAll(t, m, ring, t0, in)
	n := nsecs(m.Ns)
	if m.Rcode != dns.RcodeSuccess || len(n) != 1 || n[0].Hdr.Name != q.qname {
		t.Errorf("want NOERROR and one NSEC at the name, got %s %v", dns.RcodeToString[m.Rcode], n)
	}
}

func TestSignFailureLeavesMessage(t *testing.T) {
	ksk, zsk := sharedKeys(t)
	broken := *zsk
	broken.Signer = failSigner{pub: zsk.Signer.Public()}
	ring := testRing(t, RingOptions{}, ksk, &broken)
	for _, q := range []query{qAnswer, qNoData, qNX, qSecureRef, qInsecureRef} {
		t.Run(q.name, func(t *testing.T) {
			s := New(Config{})
			m, in := q.build(t, Compact, true)
			before, answer, ns := m.String(), m.Answer, m.Ns
			err := s.Sign(m, in, ring, t0)
			if err == nil {
				t.Fatal("no error from a failing signer")
			}
			if m.String() != before || !slices.Equal(m.Answer, answer) || !slices.Equal(m.Ns, ns) {
				t.Errorf("message changed on error:\n%s", m)
			}
			if s.Stats().Failures != 1 {
				t.Errorf("failures %d, want 1", s.Stats().Failures)
			}
		})
	}
	t.Run("white lies without Names", func(t *testing.T) {
		m, in := qNX.build(t, WhiteLies, true)
		in.Names = nil
		if err := New(Config{}).Sign(m, in, testRing(t, RingOptions{}), t0); err == nil || errors.Is(err, errNoCover) {
			t.Errorf("err %v, want a missing-Names error", err)
		}
	})
}

// hidingNames is the test zone whose cuts (and a DNAME owner) hide their descendants.
type hidingNames struct{ zoneNames }

func (hidingNames) Hides(name string) bool {
	return name == "sub.example." || name == "insecure.example." || name == "b.example."
}

// TestCoverNeverStartsBelowAHider: for a name whose only covering range would start at
// "\000.<cut or DNAME owner>", white lies give up the cover rather than deny the names below
// the cut or owner.
func TestCoverNeverStartsBelowAHider(t *testing.T) {
	if owner, _, err := cover(names, `sub\000.example.`, "example."); err != nil || owner != `\000.sub.example.` {
		t.Fatalf("without Hides: owner %s, err %v; want the successor of sub.example.", owner, err)
	}
	if _, _, err := cover(hidingNames{names}, `sub\000.example.`, "example."); !errors.Is(err, errNoCover) {
		t.Errorf("below a cut: err %v, want errNoCover", err)
	}
	m, in := query{name: "nx below hider", qname: `sub\000.example.`, qtype: dns.TypeA, kind: NXDomain,
		ns: []string{soaNeg}, rcode: dns.RcodeNameError,
		in: func(in *Input) { in.ClosestEncloser = zone }}.build(t, WhiteLies, true)
	in.Names = hidingNames{names}
	if err := New(Config{}).Sign(m, in, testRing(t, RingOptions{}), t0); err != nil {
		t.Fatal(err)
	}
	for _, n := range nsecs(m.Ns) {
		if dnsname.InZone(n.Hdr.Name, "sub.example.") {
			t.Errorf("NSEC owned by %s, below the cut", n.Hdr.Name)
		}
	}
}
