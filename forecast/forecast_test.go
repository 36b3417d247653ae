package forecast

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

const day = 24 * time.Hour

var now = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func key(id string, role keystore.Role, tag uint16, active time.Time) rollover.Key {
	return rollover.Key{ID: id, Role: role, Tag: tag, Algorithm: 13, Created: active, Publish: active, Ready: active, Active: active}
}

func count(evs []Event, role, what string) []Event {
	var out []Event
	for _, e := range evs {
		if e.Role == role && e.What == what {
			out = append(out, e)
		}
	}
	return out
}

// TestProjectAutomatic projects 400 days of a zone with an automatic KSK rollover due in
// 265 days and a ZSK that is 10 days into its 30: ZSK rollovers every 30 days, one
// double-KSK rollover with CDS, the parent's DS change a day later, the swap after the DS
// TTL, and no finding for the default policy.
func TestProjectAutomatic(t *testing.T) {
	keys := []rollover.Key{key("k1", keystore.KSK, 111, now.Add(-100*day)), key("z1", keystore.ZSK, 222, now.Add(-10*day))}
	p := rollover.Policy{KSKAutomatic: true}
	f := Project("example.test.", keys, p, Options{From: now, Horizon: 400 * day, Refresh: 2 * day, Validity: 7 * day})
	if len(f.Findings) != 0 {
		t.Fatalf("findings for the default policy: %+v", f.Findings)
	}
	zActive := count(f.Events, "ZSK", "active")
	// Due at +20d, then every 30 days: +20, +50, ..., +380 = 13 in 400 days.
	if len(zActive) != 13 {
		t.Fatalf("%d ZSK activations in 400 days, want 13: %+v", len(zActive), zActive)
	}
	if got, want := zActive[0].At, now.Add(20*day); !got.Equal(want) {
		t.Errorf("first new ZSK active at %v, want %v (the old one's 30 days end)", got, want)
	}
	for i := 1; i < len(zActive); i++ {
		if d := zActive[i].At.Sub(zActive[i-1].At); d != 30*day {
			t.Errorf("ZSK activations %d and %d are %v apart, want 30d", i-1, i, d)
		}
	}
	if pub := count(f.Events, "ZSK", "published")[0].At; !pub.Equal(now.Add(20*day - time.Hour - 5*time.Minute)) {
		t.Errorf("first new ZSK published at %v, want Ipub (1h05m) before it signs", pub)
	}

	kPub := count(f.Events, "KSK", "published")
	cds := count(f.Events, "KSK", "cds-published")
	ds := count(f.Events, "DS", "ds-changed")
	kRemoved := count(f.Events, "KSK", "removed")
	if len(kPub) != 1 || len(cds) != 1 || len(ds) != 1 || len(kRemoved) != 1 {
		t.Fatalf("one KSK rollover expected: published %v, CDS %v, DS %v, removed %v", kPub, cds, ds, kRemoved)
	}
	start := now.Add(265 * day)
	if !kPub[0].At.Equal(start) || kPub[0].Key != "new KSK #1" {
		t.Errorf("new KSK published %v as %q, want %v (the old one's 365 days end)", kPub[0].At, kPub[0].Key, start)
	}
	ready := start.Add(time.Hour + 5*time.Minute)
	if !cds[0].At.Equal(ready) {
		t.Errorf("CDS published %v, want %v (Ipub after publication)", cds[0].At, ready)
	}
	if !ds[0].At.Equal(ready.Add(DefaultParentDelay)) || ds[0].Detail != "KSK new KSK #1" {
		t.Errorf("parent DS changed %v to %q, want %v to the new KSK only", ds[0].At, ds[0].Detail, ready.Add(DefaultParentDelay))
	}
	// The swap follows the first hourly check that sees the change, plus parent
	// propagation (1h) and the DS TTL (1d).
	swap := kRemoved[0].At
	if min, max := ds[0].At.Add(25*time.Hour), ds[0].At.Add(26*time.Hour); swap.Before(min) || swap.After(max) {
		t.Errorf("old KSK removed %v, want between %v and %v", swap, min, max)
	}
	if kRemoved[0].Key != "111" {
		t.Errorf("removed KSK %q, want the old one (111)", kRemoved[0].Key)
	}

	var dsLane *Lane
	for i := range f.Lanes {
		if f.Lanes[i].Role == "DS" {
			dsLane = &f.Lanes[i]
		}
	}
	if dsLane == nil || len(dsLane.Spans) != 2 || dsLane.Spans[0].State != "KSK 111" || dsLane.Spans[1].State != "KSK new KSK #1" {
		t.Fatalf("DS lane %+v, want KSK 111 then the new KSK", dsLane)
	}

	var buf bytes.Buffer
	if err := f.SVG(&buf); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, buf.Bytes(), len(f.Lanes))
}

// checkSVG parses the picture as XML and counts its lane labels.
func checkSVG(t *testing.T, b []byte, lanes int) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	texts, rects := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "text":
				texts++
			case "rect":
				rects++
			}
		}
	}
	if texts < lanes+2 || rects < 2*lanes {
		t.Errorf("SVG has %d texts and %d rects for %d lanes", texts, rects, lanes)
	}
	if !bytes.Contains(b, []byte("DS at the parent")) {
		t.Error("SVG lacks the parent DS lane")
	}
}

// TestProjectManual: a manual KSK never rolls; only the ZSK does, and the DS stays.
func TestProjectManual(t *testing.T) {
	keys := []rollover.Key{key("k1", keystore.KSK, 111, now.Add(-400*day)), key("z1", keystore.ZSK, 222, now.Add(-29*day))}
	f := Project("example.test.", keys, rollover.Policy{ZSKLifetime: 7 * day}, Options{From: now, Horizon: 60 * day})
	if n := len(count(f.Events, "KSK", "published")); n != 0 {
		t.Errorf("a manual KSK rolled %d times", n)
	}
	if n := len(count(f.Events, "DS", "ds-changed")); n != 0 {
		t.Errorf("the DS changed %d times under a manual KSK", n)
	}
	// The 7-day lifetime ended 22 days ago: the rollover is due at once, then weekly.
	z := count(f.Events, "ZSK", "active")
	if len(z) < 8 || !z[0].At.Equal(now.Add(time.Hour+5*time.Minute)) {
		t.Errorf("ZSK activations %+v: want the overdue one at now+Ipub, then weekly", z)
	}
}

// TestCheck names the interval that is too short for the zone's TTLs.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		p        rollover.Policy
		opt      Options
		want     string // Interval of the expected finding; empty: none
		severity Severity
	}{
		{"defaults", rollover.Policy{KSKAutomatic: true}, Options{Refresh: 2 * day, Validity: 7 * day}, "", ""},
		{"zsk shorter than Ipub", rollover.Policy{ZSKLifetime: 30 * time.Minute}, Options{}, "zsk-lifetime", Error},
		{"zsk shorter than a rollover", rollover.Policy{ZSKLifetime: 12 * time.Hour, MaxZoneTTL: day}, Options{}, "zsk-lifetime", Warning},
		{"ksk shorter than a rollover", rollover.Policy{KSKAutomatic: true, KSKLifetime: 2 * day}, Options{}, "ksk-lifetime", Error},
		{"refresh under the largest TTL", rollover.Policy{MaxZoneTTL: 3 * day}, Options{Refresh: 2 * day}, "refresh", Error},
		{"wait limit under the parent", rollover.Policy{KSKAutomatic: true, DSWaitLimit: 12 * time.Hour}, Options{}, "ds-wait-limit", Warning},
		{"dnskey ttl over the lifetime", rollover.Policy{ZSKLifetime: 2 * day, DNSKEYTTL: 3 * day, MaxZoneTTL: time.Hour}, Options{}, "dnskey-ttl", Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(tc.p, tc.opt)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("findings %+v, want none", got)
				}
				return
			}
			for _, f := range got {
				if f.Interval == tc.want && f.Severity == tc.severity {
					if !strings.Contains(f.Message, "TTL") && !strings.Contains(f.Message, "parent") {
						t.Errorf("message does not say which TTL or parent delay: %s", f.Message)
					}
					return
				}
			}
			t.Fatalf("findings %+v, want a %s on %s", got, tc.severity, tc.want)
		})
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		30 * day: "30d", time.Hour + 5*time.Minute: "1h5m", day + 5*time.Minute: "1d5m", 2 * time.Hour: "2h", 90 * time.Second: "1m30s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
	for s, want := range map[string]time.Duration{"400d": 400 * day, "36h": 36 * time.Hour, "1d12h": 36 * time.Hour} {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "d", "x3d", "3dd", "-"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) accepted", s)
		}
	}
}

// TestProjectBounded: a lab policy (an 8-second ZSK lifetime) over 400 days would make
// millions of keys; the projection stops after maxNewKeys, says so, and ends the picture there.
func TestProjectBounded(t *testing.T) {
	keys := []rollover.Key{key("k1", keystore.KSK, 111, now), key("z1", keystore.ZSK, 222, now)}
	p := rollover.Policy{ZSKLifetime: 8 * time.Second, DNSKEYTTL: time.Second, MaxZoneTTL: time.Second, PropagationDelay: time.Second}
	f := Project("lab.test.", keys, p, Options{From: now, Horizon: 400 * day})
	if len(f.Lanes) > maxNewKeys+3 {
		t.Errorf("%d lanes", len(f.Lanes))
	}
	found := false
	for _, fd := range f.Findings {
		found = found || fd.Interval == "horizon"
	}
	if !found || !f.Until.Before(now.Add(time.Hour)) {
		t.Errorf("findings %+v, until %v: want the projection cut short and said so", f.Findings, f.Until)
	}
}

// TestWrap: findings are wrapped to the picture's width, no word lost or split.
func TestWrap(t *testing.T) {
	s := "WARNING parents: no parent name servers are configured (zones[].parents): Signet cannot see the DS change, so each KSK rollover waits for `signet ksk ds-seen`"
	lines := wrap(s, 40)
	if len(lines) < 4 {
		t.Fatalf("%d lines: %q", len(lines), lines)
	}
	for _, l := range lines {
		if len([]rune(l)) > 40 {
			t.Errorf("line of %d characters: %q", len([]rune(l)), l)
		}
	}
	if got := strings.Join(lines, " "); got != s {
		t.Errorf("joined %q, want %q", got, s)
	}
	if got := wrap("", 10); len(got) != 1 {
		t.Errorf("wrap of nothing: %q", got)
	}
}
