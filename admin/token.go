package admin

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/signetdns/signet/internal/atomicfile"
)

// Files in the state directory through which the CLI finds the server it manages.
const (
	// SocketFile is the control socket: reaching it is the authentication (the state
	// directory is 0700, the socket 0600).
	SocketFile = "admin.sock"
	// TokenFile holds the bearer token of the TCP listener when none is configured (0600).
	TokenFile = "admin.token"
)

// LoadOrCreateToken returns the token in dir/TokenFile, made first (32 random bytes,
// base64url, mode 0600) if the file does not exist. A token file that others may read is
// refused: the token is as good as published.
func LoadOrCreateToken(dir string) (string, error) {
	path := filepath.Join(dir, TokenFile)
	tok, err := ReadToken(path)
	if err == nil {
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok = base64.RawURLEncoding.EncodeToString(raw)
	if err := atomicfile.Write(dir, TokenFile, []byte(tok+"\n")); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}

// ReadToken reads a token file written by LoadOrCreateToken; a file that group or others may
// read, or an empty one, is an error that names it (never its content).
func ReadToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("admin token file %s has mode %04o: others may read it (want 0600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("admin token file %s is empty", path)
	}
	return tok, nil
}
