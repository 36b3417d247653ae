package file_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/storetest"
)

// TestUnreadableMetadataIsolated: one key's metadata file damaged in each of the ways a disk
// or an operator damages it (cut short, not JSON, not readable, naming an invalid zone, a
// stray name) leaves the other zones' listings whole and error-free; a listing of every
// zone returns the other keys with a *keystore.UnreadableError naming the file (and the zone
// when that much can be read), as does the listing of the zone it names; the damaged key is
// neither listed nor deleted, and Get and Signer fail for it alone, naming the file, without
// any key material or the passphrase.
func TestUnreadableMetadataIsolated(t *testing.T) {
	t.Parallel()
	whole := func(b []byte) []byte { return b }
	tests := []struct {
		name     string
		damage   func(path string, b []byte) error
		zoneKnow bool // the zone can still be read from what is left
	}{
		{"cut short", func(p string, b []byte) error { return os.WriteFile(p, b[:len(b)*2/3], 0o600) }, true},
		{"not JSON", func(p string, _ []byte) error { return os.WriteFile(p, []byte("\x00\x01garbage"), 0o600) }, false},
		{"empty", func(p string, _ []byte) error { return os.WriteFile(p, nil, 0o600) }, false},
		// Root reads a file whatever its mode: a directory under the name cannot be read by anyone.
		{"unreadable", func(p string, _ []byte) error {
			if err := os.Remove(p); err != nil {
				return err
			}
			return os.Mkdir(p, 0o700)
		}, false},
		{"invalid zone", func(p string, b []byte) error {
			return os.WriteFile(p, []byte(strings.Replace(string(whole(b)), `"zone": "bad.test."`, `"zone": "bad..test."`, 1)), 0o600)
		}, false},
		{"wrong algorithm", func(p string, b []byte) error {
			return os.WriteFile(p, []byte(strings.Replace(string(b), `"algorithm": 13`, `"algorithm": 5`, 1)), 0o600)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), "keys")
			s := open(t, dir, testPass)
			keys := storetest.KeysOfZones(ctx, t, s, "a.test.", "bad.test.", "c.test.")
			if _, err := s.List(ctx, ""); err != nil { // an index to be found stale
				t.Fatal(err)
			}
			bad := keys["bad.test."][1]
			path := filepath.Join(dir, bad.ID+".json")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.damage(path, b); err != nil {
				t.Fatal(err)
			}
			// Rewriting a file in place leaves the directory's time, by which the index
			// knows a change: move it, as a repair by rename or a restart would be seen.
			later := time.Now().Add(time.Minute)
			if err := os.Chtimes(dir, later, later); err != nil {
				t.Fatal(err)
			}

			for _, st := range []keystore.Store{s, open(t, dir, testPass)} { // with an index, and a new process
				for _, z := range []string{"a.test.", "c.test."} {
					got, err := st.List(ctx, z)
					if err != nil || len(got) != 2 || got[0] != keys[z][0] || got[1] != keys[z][1] {
						t.Errorf("List(%s) = %v, %v; want its 2 keys and no error", z, got, err)
					}
				}
				all, err := st.List(ctx, "")
				var ue *keystore.UnreadableError
				if !errors.As(err, &ue) || len(ue.Entries) != 1 {
					t.Fatalf("List(\"\") error = %v, want an UnreadableError of 1 entry", err)
				}
				u := ue.Entries[0]
				wantZone := ""
				if tt.zoneKnow {
					wantZone = "bad.test."
				}
				if u.ID != bad.ID || u.Where != path || u.Zone != wantZone || !strings.Contains(u.Err.Error(), path) {
					t.Errorf("unreadable entry %+v (%v), want ID %s, Where %s, Zone %q, an error naming the file", u, u.Err, bad.ID, path, wantZone)
				}
				if len(all) != 5 || containsID(all, bad.ID) {
					t.Errorf("List(\"\") = %d keys (with the damaged one: %v), want the 5 others", len(all), containsID(all, bad.ID))
				}
				own, err := st.List(ctx, "bad.test.")
				if len(own) != 1 || own[0] != keys["bad.test."][0] {
					t.Errorf("List(bad.test.) = %v, want its readable KSK", own)
				}
				if tt.zoneKnow != errors.As(err, &ue) {
					t.Errorf("List(bad.test.) error = %v; want an UnreadableError: %v", err, tt.zoneKnow)
				}
				if _, err := st.Get(ctx, bad.ID); err == nil || errors.Is(err, keystore.ErrNotFound) || !strings.Contains(err.Error(), path) {
					t.Errorf("Get of the damaged key: %v, want an error naming %s that is not ErrNotFound", err, path)
				}
				if _, err := st.Get(ctx, keys["bad.test."][0].ID); err != nil {
					t.Errorf("Get of the zone's intact KSK: %v", err)
				}
				if sg, err := st.Signer(ctx, keys["c.test."][1].ID); err != nil || sg == nil {
					t.Errorf("Signer of another zone's ZSK: %v", err)
				}
				for _, e := range []error{err, u.Err} {
					if e != nil && strings.Contains(e.Error(), string(testPass)) {
						t.Errorf("an error holds the passphrase: %v", e)
					}
				}
			}
			// A new process, whose damaged key is not cached: Signer fails for it alone.
			fresh := open(t, dir, testPass)
			if _, err := fresh.Signer(ctx, bad.ID); err == nil || errors.Is(err, keystore.ErrNotFound) || !strings.Contains(err.Error(), path) {
				t.Errorf("Signer of the damaged key: %v, want an error naming %s", err, path)
			}
			if _, err := os.Stat(filepath.Join(dir, bad.ID+".key.age")); err != nil {
				t.Errorf("the damaged key's key file: %v", err)
			}
			// Repaired in place (the directory's time unchanged): listed again, by the
			// Store whose index reported it too.
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(dir, fi.ModTime(), later); err != nil {
				t.Fatal(err)
			}
			if all, err := s.List(ctx, ""); err != nil || len(all) != 6 || !containsID(all, bad.ID) {
				t.Errorf("List after the repair = %d keys, %v; want all 6", len(all), err)
			}
			if sg, err := fresh.Signer(ctx, bad.ID); err != nil || sg == nil {
				t.Errorf("Signer of the repaired key: %v", err)
			}
		})
	}
}

// TestStrayMetadataNameIsolated: a file named *.json that is no key's metadata is reported by
// a listing of every zone, and a zone's listing ignores it.
func TestStrayMetadataNameIsolated(t *testing.T) {
	t.Parallel()
	dir, ms := create(t, 1)
	stray := filepath.Join(dir, "backup.json")
	if err := os.WriteFile(stray, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, testPass)
	if got, err := s.List(context.Background(), "example.org."); err != nil || len(got) != 1 || got[0] != ms[0] {
		t.Errorf("List(example.org.) = %v, %v", got, err)
	}
	got, err := s.List(context.Background(), "")
	var ue *keystore.UnreadableError
	if !errors.As(err, &ue) || len(ue.Entries) != 1 || ue.Entries[0].Where != stray || ue.Entries[0].ID != "" || len(got) != 1 {
		t.Errorf("List(\"\") = %v, %v; want the key and an UnreadableError naming %s", got, err, stray)
	}
}

func containsID(ms []keystore.Meta, id string) bool {
	for _, m := range ms {
		if m.ID == id {
			return true
		}
	}
	return false
}
