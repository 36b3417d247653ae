package secretfile

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// ReadRaw returns the whole content of the regular file at path, unchanged, for secrets whose
// surrounding white space may matter (a passphrase) or that a parser reads as they are (an age
// identity file). A file that group or others may read or write is an error. The mode is
// checked on the open file, so the file checked is the file read.
func ReadRaw(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secret file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s has mode %04o: group or others may read it (chmod 600)", path, perm)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		// The read error names the file and the failing call, never the content.
		return nil, fmt.Errorf("secret file %s: %w", path, err)
	}
	return b, nil
}

// Read returns the file's content with surrounding white space removed, under ReadRaw's
// rules. An empty file, or one holding only white space, is an error too.
func Read(path string) (string, error) {
	b, err := ReadRaw(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}
