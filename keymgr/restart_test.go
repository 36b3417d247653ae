package keymgr

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestRestartReusesPremade restarts a signed zone: within a PremadeStep of when its
// pre-made signatures were made the saved ones are served again and nothing is written;
// later, or when some are missing, new ones are made and saved.
func TestRestartReusesPremade(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		restart time.Duration
		spoil   func(t *testing.T, path string)
		reused  bool
	}{
		{name: "fresh", restart: time.Hour, reused: true},
		{name: "refresh due", restart: PremadeStep + time.Minute},
		// A document saved before digests were: its signatures are verified, then reused.
		{name: "no digest", restart: time.Hour, reused: true, spoil: func(t *testing.T, p string) {
			editPremade(t, p, func(doc map[string]any) { delete(doc, "digest") })
		}},
		// A digest that does not match: verified likewise.
		{name: "other digest", restart: time.Hour, reused: true, spoil: func(t *testing.T, p string) {
			editPremade(t, p, func(doc map[string]any) { doc["digest"] = "AAAA" })
		}},
		{name: "missing signatures", restart: time.Hour, spoil: func(t *testing.T, p string) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Keep the document valid JSON but drop all signatures after the first.
			i := bytes.Index(b, []byte("\",\n"))
			j := bytes.LastIndex(b, []byte("\"\n"))
			if i < 0 || j < i {
				t.Fatalf("unexpected document:\n%s", b)
			}
			if err := os.WriteFile(p, append(b[:i+1:i+1], b[j+1:]...), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t, ZonePolicy{QuickStart: true})
			zdir := filepath.Join(f.dir, "zones")
			if tc.spoil != nil {
				tc.spoil(t, filepath.Join(zdir, "example.test.premade"))
			}
			before := readDir(t, zdir)
			at := t0.Add(tc.restart)
			f.clk.set(at)
			g := newFixture(t, f.dir, f.soft, f.tpm, f.clk)
			if err := g.m.AddZone(ctx, testZone, ZonePolicy{QuickStart: true}); err != nil {
				t.Fatal(err)
			}
			ring, _, ok := g.m.Signing(testZone)
			if !ok {
				t.Fatal("not signed after the restart")
			}
			verifyRing(t, ring, at)
			verifyRing(t, ring, at.Add(10*24*time.Hour))
			after := readDir(t, zdir)
			same := len(before) == len(after)
			for name, b := range before {
				same = same && bytes.Equal(b, after[name])
			}
			if same != tc.reused {
				t.Errorf("state directory unchanged %v, want %v", same, tc.reused)
			}
			// The ring is due for its refresh when the signatures it serves are a step old.
			wantMade := at
			if tc.reused {
				wantMade = t0
			}
			if dl := g.m.Step(ctx, at); !dl.Equal(wantMade.Add(PremadeStep)) {
				t.Errorf("next step %s, want %s", dl, wantMade.Add(PremadeStep))
			}
		})
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}

// editPremade rewrites the pre-made signature document at p through edit.
func editPremade(t *testing.T, p string, edit func(doc map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["digest"]; !ok {
		t.Fatalf("no digest saved:\n%s", b)
	}
	edit(doc)
	if b, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPremadeWire: a saved pre-made document holds each signature in wire form beside its
// text; both decode to the ring's signatures (the text alone: a document from an older
// version), and a record in wire form that is not a whole RRSIG by the zone is refused.
func TestPremadeWire(t *testing.T) {
	f := setup(t, ZonePolicy{QuickStart: true, CDS: true})
	ring, _, _ := f.m.Signing(testZone)
	sigs := ring.Premade()
	if len(sigs) != 3*PremadeCount {
		t.Fatalf("%d pre-made signatures, want %d", len(sigs), 3*PremadeCount)
	}
	b, err := encodePremade(testZone, premadeSet{made: time.Unix(1, 0), sigs: sigs})
	if err != nil {
		t.Fatal(err)
	}
	var doc premadeDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Wire) != len(sigs) {
		t.Fatalf("%d records in wire form, want %d", len(doc.Wire), len(sigs))
	}
	textOnly := doc
	textOnly.Wire = nil
	old, err := json.Marshal(textOnly)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"wire": b, "text only": old} {
		got, err := decodePremade(testZone, b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got.sigs) != len(sigs) {
			t.Fatalf("%s: %d signatures, want %d", name, len(got.sigs), len(sigs))
		}
		for i := range sigs {
			if got.sigs[i].String() != sigs[i].String() {
				t.Errorf("%s: signature %d decoded as %q, want %q", name, i, got.sigs[i], sigs[i])
			}
		}
	}
	a, err := dns.NewRR(testZone + " 3600 IN A 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	n, err := dns.PackRR(a, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	other := dns.Copy(sigs[0]).(*dns.RRSIG)
	other.SignerName = "other.test."
	m, err := dns.PackRR(other, buf[n:], 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string][]byte{
		"truncated":      doc.Wire[0][:len(doc.Wire[0])-3],
		"trailing":       append(slices.Clone(doc.Wire[0]), 0),
		"not an RRSIG":   buf[:n],
		"another zone's": buf[n : n+m],
	} {
		bad := doc
		bad.Wire = slices.Clone(doc.Wire)
		bad.Wire[0] = w
		b, err := json.Marshal(bad)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodePremade(testZone, b); err == nil {
			t.Errorf("%s: accepted as %v", name, got.sigs[0])
		}
	}
}
