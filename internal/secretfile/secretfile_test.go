package secretfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		content string
		mode    os.FileMode
		want    string // "" when an error is wanted
		errHas  string
	}{
		{" s3cret\n", 0o600, "s3cret", ""},
		{"s3cret", 0o640, "", "0640"},
		{"s3cret", 0o604, "", "0604"},
		{"\n", 0o600, "", "empty"},
	} {
		p := filepath.Join(dir, "f")
		os.Remove(p)
		if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, tc.mode) // past the umask
		got, err := Read(p)
		switch {
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("%q %04o: %q %v", tc.content, tc.mode, got, err)
		case tc.want == "" && (err == nil || !strings.Contains(err.Error(), tc.errHas) || strings.Contains(err.Error(), "s3cret")):
			t.Errorf("%q %04o: error %v, want one saying %q without the secret", tc.content, tc.mode, err, tc.errHas)
		}
	}
	if _, err := Read(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestReadRaw(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "pass")
	if err := os.WriteFile(p, []byte(" pass phrase \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadRaw(p); err != nil || string(got) != " pass phrase \n" {
		t.Errorf("ReadRaw = %q, %v; want the content unchanged", got, err)
	}
	os.Chmod(p, 0o620) // group may write: the secret may be replaced by someone else's
	if _, err := ReadRaw(p); err == nil || !strings.Contains(err.Error(), "0620") || strings.Contains(err.Error(), "phrase") {
		t.Errorf("group-writable file: %v, want a refusal naming the mode and not the content", err)
	}
	// A directory (or a FIFO, a device) is no secret file, whatever its mode.
	sub := filepath.Join(dir, "d")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRaw(sub); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v, want a refusal", err)
	}
	if _, err := Read(sub); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Read of a directory: %v, want a refusal", err)
	}
}
