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
