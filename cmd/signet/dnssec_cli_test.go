package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/signetdns/signet/keymgr"
)

// TestPrintStatus: `signet dnssec status` prints a row per key (ZSKs too) with its role, tag,
// state and next transition, and says when rollovers are paused.
func TestPrintStatus(t *testing.T) {
	next := time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC)
	d := &keymgr.DNSSEC{
		Zone:   "example.test.",
		Status: keymgr.Status{ServeSignature: keymgr.StatusActionNeeded, StatusMessage: "KSK auto_1: waited"},
		Keys: []keymgr.KeyState{
			{Name: "quickstart", Role: "KSK", KeyTag: 111, State: "active", Status: keymgr.StatusActive, Next: next, NextEvent: "removed"},
			{Name: "auto_222", Role: "KSK", KeyTag: 222, State: "ready", Status: keymgr.StatusActionNeeded, Note: "waiting for the parent"},
			{ID: "00aa", Role: "ZSK", KeyTag: 333, State: "active", Next: next.Add(time.Hour), NextEvent: "rollover starts"},
		},
		Rollover: keymgr.RolloverStatus{KSKRollover: "automatic", ZSKLifetime: "720h0m0s", Rolling: "KSK", Paused: true, Reason: "rollovers paused: KSK 222"},
	}
	var b bytes.Buffer
	printStatus(&b, d)
	out := b.String()
	for _, want := range []string{
		"zone example.test.: ACTION_NEEDED (KSK auto_1: waited)",
		"rollover: KSK automatic, ZSK lifetime 720h0m0s; KSK rollover in progress",
		"PAUSED: rollovers paused: KSK 222",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 8 && (f[1] == "KSK" || f[1] == "ZSK") {
			rows[f[0]] = f
		}
	}
	for _, tc := range []struct{ key, tag, state, next, event string }{
		{"quickstart", "111", "active", "2026-02-01T10:00:00Z", "removed"},
		{"auto_222", "222", "ready", "-", "-"},
		{"00aa", "333", "active", "2026-02-01T11:00:00Z", "rollover"},
	} {
		r, ok := rows[tc.key]
		if !ok {
			t.Errorf("no row for %s in:\n%s", tc.key, out)
			continue
		}
		if r[2] != tc.tag || r[4] != tc.state || r[6] != tc.next || r[7] != tc.event {
			t.Errorf("row %v, want tag %s state %s next %s %s", r, tc.tag, tc.state, tc.next, tc.event)
		}
	}
}

func TestPrintStatusAlgorithmRollover(t *testing.T) {
	d := &keymgr.DNSSEC{Zone: "example.test.", Status: keymgr.Status{ServeSignature: keymgr.StatusSigning},
		Rollover: keymgr.RolloverStatus{KSKRollover: "automatic", ZSKLifetime: "720h0m0s", Rolling: "KSK",
			Algorithm: 15, AlgorithmFrom: 13, AlgorithmTo: 15, AlgorithmStep: "new keys published"}}
	var b bytes.Buffer
	printStatus(&b, d)
	out := b.String()
	if !strings.Contains(out, "; algorithm rollover in progress") || strings.Contains(out, "KSK rollover in progress") {
		t.Errorf("an algorithm rollover reads as:\n%s", out)
	}
	if !strings.Contains(out, "algorithm rollover 13 (ECDSAP256SHA256) -> 15 (ED25519): new keys published") {
		t.Errorf("no algorithm step in:\n%s", out)
	}
}
