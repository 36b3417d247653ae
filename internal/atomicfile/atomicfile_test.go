package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteReplacesAndIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"one", "two"} {
		if err := Write(dir, "f.json", []byte(s)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(dir, "f.json"))
		if err != nil || string(b) != s {
			t.Fatalf("read %q, %v; want %q", b, err, s)
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("directory holds %d entries, want only f.json (no temporary file left)", len(ents))
	}
	fi, err := os.Stat(filepath.Join(dir, "f.json"))
	if err != nil || fi.Mode().Perm() != FileMode {
		t.Errorf("file mode %v (%v), want %v", fi.Mode().Perm(), err, FileMode)
	}
}

func TestPrepareDirTightens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := PrepareDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != DirMode {
		t.Errorf("mode %v after PrepareDir, want %v", fi.Mode().Perm(), DirMode)
	}
	f := filepath.Join(dir, "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := PrepareDir(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("PrepareDir on a file: %v, want 'not a directory'", err)
	}
	if err := PrepareDir(""); err == nil {
		t.Error("PrepareDir(\"\") succeeded")
	}
}

func TestWriteFailureLeavesOld(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, "f", []byte("old")); err != nil {
		t.Fatal(err)
	}
	// A directory where the file should go makes the rename fail.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, "d", []byte("new")); err == nil {
		t.Fatal("Write over a non-empty directory succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("%d entries after a failed Write, want 2 (the temporary file removed)", len(ents))
	}
	if err := Remove(dir, "f", "missing"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "f")); !os.IsNotExist(err) {
		t.Errorf("f still there after Remove: %v", err)
	}
}
