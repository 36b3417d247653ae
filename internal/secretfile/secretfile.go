package secretfile

import (
	"fmt"
	"os"
	"strings"
)

// Read returns the file's content with surrounding white space removed. A file that group or
// others may read, or an empty one, is an error.
func Read(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("secret file %s has mode %04o: others may read it (chmod 600)", path, perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return s, nil
}
