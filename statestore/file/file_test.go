package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/signetdns/signet/statestore"
	"github.com/signetdns/signet/statestore/storetest"
)

func TestContract(t *testing.T) {
	open := func(t *testing.T, dir string) statestore.Store {
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	storetest.Run(t, func(t *testing.T) statestore.Store { return open(t, t.TempDir()) },
		storetest.Reopen(func(t *testing.T, old statestore.Store) statestore.Store {
			return open(t, old.(*Store).Dir())
		}))
}

// TestLayout: the file names, the modes, and names that could escape the directory.
func TestLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "zones")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct {
		zone string
		doc  statestore.Doc
		file string
	}{
		{"example.test.", statestore.KeyState, "example.test.json"},
		{"example.test.", statestore.Premade, "example.test.premade"},
		{".", statestore.KeyState, "root.json"},
	} {
		if _, err := s.Save(ctx, c.zone, c.doc, []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatalf("%s %s: %v", c.zone, c.doc, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", c.file, fi.Mode().Perm())
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	for _, bad := range []string{"../evil.", "a/b.", ".hidden.", "Upper.test."} {
		if _, err := s.Save(ctx, bad, statestore.KeyState, []byte("x"), 0); err == nil || !strings.Contains(err.Error(), "cannot name a state file") {
			t.Errorf("Save(%q): %v, want a refusal", bad, err)
		}
	}
	if _, err := s.Save(ctx, "example.test.", "other", []byte("x"), 0); err == nil {
		t.Error("Save of an unknown document kind succeeded")
	}
	// A temporary file left by a crash is never read as the document.
	if err := os.WriteFile(filepath.Join(dir, ".new.test.json.tmp1"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, "new.test.", statestore.KeyState); err == nil {
		t.Error("Load read a temporary file")
	}
}
