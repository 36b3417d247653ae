package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// PassphraseFromFile reads a passphrase from the file at path. The file must
// not be accessible to group or others, since anyone who can read it can
// decrypt every key; a single trailing newline is dropped so that files
// written with echo work.
func PassphraseFromFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: passphrase file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keystore: passphrase file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keystore: passphrase file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("keystore: passphrase file %s has mode %04o, readable by group or others; run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("keystore: read passphrase file %s: %w", path, err)
	}
	p := trimNewline(b)
	if len(p) == 0 {
		return nil, fmt.Errorf("keystore: passphrase file %s is empty", path)
	}
	return p, nil
}

// PassphraseFromEnv reads a passphrase from the environment variable name.
// An unset or empty variable is an error, so that a typo in the variable's
// name never silently means "no passphrase".
func PassphraseFromEnv(name string) ([]byte, error) {
	v, ok := os.LookupEnv(name)
	if !ok {
		return nil, fmt.Errorf("keystore: passphrase variable %s is not set", name)
	}
	if v == "" {
		return nil, fmt.Errorf("keystore: passphrase variable %s is empty", name)
	}
	return []byte(v), nil
}

func trimNewline(b []byte) []byte {
	b, _ = bytes.CutSuffix(b, []byte("\n"))
	b, _ = bytes.CutSuffix(b, []byte("\r"))
	return b
}

var errNoPassphrase = errors.New("keystore: empty passphrase")
