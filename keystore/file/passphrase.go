package file

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/signetdns/signet/internal/secretfile"
)

// PassphraseFromFile reads a passphrase from the file at path. The file must
// not be accessible to group or others, since anyone who can read it can
// decrypt every key; a single trailing newline is dropped so that files
// written with echo work.
func PassphraseFromFile(path string) ([]byte, error) {
	b, err := secretfile.ReadRaw(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: passphrase: %w", err)
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
