package rollover_test

import (
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

// TestPostpone: a ZSK rollover's planned instants after the start move, the start and the
// observed instants do not, and the input is left alone.
func TestPostpone(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := rollover.Policy{DNSKEYTTL: time.Hour, PropagationDelay: 5 * time.Minute, MaxZoneTTL: time.Hour}
	past := t0.Add(-48 * time.Hour)
	old := rollover.Key{ID: "old", Role: keystore.ZSK, Created: past, Publish: past, Ready: past, Active: past}
	keys, err := rollover.Apply([]rollover.Key{old}, rollover.Action{Kind: rollover.CreateZSK, Role: keystore.ZSK},
		rollover.Key{ID: "new", Role: keystore.ZSK}, p, t0)
	if err != nil {
		t.Fatal(err)
	}
	got := rollover.Postpone(keys, t0, 90*time.Second)
	if !got[1].Publish.Equal(t0) || !got[1].Created.Equal(t0) {
		t.Errorf("the start moved: publish %s created %s", got[1].Publish, got[1].Created)
	}
	if want := t0.Add(p.PublishInterval() + 90*time.Second); !got[1].Active.Equal(want) || !got[0].Retire.Equal(want) {
		t.Errorf("active %s, old retire %s, want both %s", got[1].Active, got[0].Retire, want)
	}
	if want := keys[0].Remove.Add(90 * time.Second); !got[0].Remove.Equal(want) {
		t.Errorf("old remove %s, want %s", got[0].Remove, want)
	}
	if !got[0].Publish.Equal(past) || !keys[1].Active.Equal(t0.Add(p.PublishInterval())) {
		t.Error("a past instant moved, or the input was modified")
	}
}
