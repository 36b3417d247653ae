package admin

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/internal/secretfile"
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
	tok, err := secretfile.Read(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok, nil
}
