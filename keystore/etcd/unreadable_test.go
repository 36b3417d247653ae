package etcd

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/signetdns/signet/internal/etcdtest"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/storetest"
)

// TestUnreadableMetadataIsolated: one key's metadata value in etcd damaged (cut short,
// naming an invalid zone, trailing data) or a metadata key under a name that is no key ID's
// leaves the other zones' listings whole and error-free; a listing of every zone returns the
// others with a *keystore.UnreadableError naming the etcd key (and the zone, when it can be
// read), as does the zone's own listing; Get and Signer fail for that key alone.
func TestUnreadableMetadataIsolated(t *testing.T) {
	c := etcdtest.Start(t, 1)
	ctx := context.Background()
	id := identity(t)
	for i, tt := range []struct {
		name     string
		damage   func(v string) string
		zoneKnow bool
	}{
		{"cut short", func(v string) string { return v[:len(v)*2/3] }, true},
		{"invalid zone", func(v string) string { return strings.Replace(v, `"zone":"bad.test."`, `"zone":"bad..test."`, 1) }, false},
		{"trailing data", func(v string) string { return v + "{}" }, true},
		{"not JSON", func(string) string { return "\x00garbage" }, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cli := c.Client(t)
			s := open(t, cli, "/signet/u"+string(rune('a'+i))+"/", id)
			keys := storetest.KeysOfZones(ctx, t, s, "a.test.", "bad.test.", "c.test.")
			bad := keys["bad.test."][1]
			resp, err := cli.Get(ctx, s.metaKey(bad.ID))
			if err != nil || len(resp.Kvs) != 1 {
				t.Fatalf("get %s: %v", s.metaKey(bad.ID), err)
			}
			if _, err := cli.Put(ctx, s.metaKey(bad.ID), tt.damage(string(resp.Kvs[0].Value))); err != nil {
				t.Fatal(err)
			}
			fresh := open(t, c.Client(t), strings.TrimSuffix(s.prefix, "keys/"), id) // nothing cached
			for _, z := range []string{"a.test.", "c.test."} {
				got, err := fresh.List(ctx, z)
				if err != nil || len(got) != 2 || got[0] != keys[z][0] || got[1] != keys[z][1] {
					t.Errorf("List(%s) = %v, %v; want its 2 keys and no error", z, got, err)
				}
			}
			all, err := fresh.List(ctx, "")
			var ue *keystore.UnreadableError
			if !errors.As(err, &ue) || len(ue.Entries) != 1 || len(all) != 5 {
				t.Fatalf("List(\"\") = %d keys, %v; want 5 and an UnreadableError of 1 entry", len(all), err)
			}
			wantZone := ""
			if tt.zoneKnow {
				wantZone = "bad.test."
			}
			if u := ue.Entries[0]; u.ID != bad.ID || u.Where != s.metaKey(bad.ID) || u.Zone != wantZone || !strings.Contains(u.Err.Error(), u.Where) {
				t.Errorf("unreadable entry %+v (%v), want ID %s, Where %s, Zone %q", u, u.Err, bad.ID, s.metaKey(bad.ID), wantZone)
			}
			own, err := fresh.List(ctx, "bad.test.")
			if len(own) != 1 || own[0] != keys["bad.test."][0] || tt.zoneKnow != errors.As(err, &ue) {
				t.Errorf("List(bad.test.) = %v, %v; want its KSK (and an UnreadableError: %v)", own, err, tt.zoneKnow)
			}
			if _, err := fresh.Get(ctx, bad.ID); err == nil || errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Get of the damaged key: %v, want an error that is not ErrNotFound", err)
			}
			if _, err := fresh.Signer(ctx, bad.ID); err == nil || errors.Is(err, keystore.ErrNotFound) {
				t.Errorf("Signer of the damaged key: %v, want an error that is not ErrNotFound", err)
			}
			if _, err := fresh.Signer(ctx, keys["c.test."][1].ID); err != nil {
				t.Errorf("Signer of another zone's ZSK: %v", err)
			}
		})
	}
	// A metadata key whose name is no key ID's: reported by the listing of every zone only.
	cli := c.Client(t)
	s := open(t, cli, "/signet/stray/", id)
	m, err := s.Create(ctx, "a.test.", keystore.ZSK, keystore.ECDSAP256SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, s.prefix+"backup.json", "{}"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.List(ctx, "a.test."); err != nil || len(got) != 1 || got[0] != m {
		t.Errorf("List(a.test.) with a stray key = %v, %v", got, err)
	}
	var ue *keystore.UnreadableError
	if got, err := s.List(ctx, ""); !errors.As(err, &ue) || len(got) != 1 || ue.Entries[0].Where != s.prefix+"backup.json" || ue.Entries[0].ID != "" {
		t.Errorf("List(\"\") with a stray key = %v, %v", got, err)
	}
}
