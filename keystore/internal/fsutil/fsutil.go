// Package fsutil holds the file handling the on-disk keystore backends share:
// a private directory, atomic writes, and metadata files.
package fsutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/internal/keyutil"
)

// DirMode and FileMode are the permissions of the key directory and every
// file in it: nobody but the owner may list or read keys.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// MetaSuffix ends the name of every metadata file: "<id>.json".
const MetaSuffix = ".json"

// PrepareDir creates dir with mode 0700 if it does not exist. If it exists
// with group or world permissions it is tightened to 0700 rather than refused:
// the keys in it are encrypted or TPM-wrapped, and failing to start a server
// over a mode bit helps nobody, whereas leaving it open would.
func PrepareDir(dir string) error {
	if dir == "" {
		return errors.New("keystore: empty directory name")
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("keystore: create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("keystore: %s is not a directory", dir)
	}
	if fi.Mode().Perm() != DirMode {
		if err := os.Chmod(dir, DirMode); err != nil {
			return fmt.Errorf("keystore: restrict %s to 0700: %w", dir, err)
		}
	}
	return nil
}

// WriteAtomic writes data to dir/name with mode 0600 so that a crash leaves
// either the old file or the new one, never a mix: it writes a temporary file
// in the same directory, fsyncs it, renames it over the target and fsyncs
// the directory so the rename itself is durable.
func WriteAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; Chmod makes it independent of that detail.
	if err = f.Chmod(FileMode); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("keystore: write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("keystore: sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("keystore: close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that renames and removals in it survive a
// crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keystore: sync %s: %w", dir, err)
	}
	return nil
}

// RemoveFiles removes dir/name for each name, ignoring files that are
// already gone, then fsyncs dir.
func RemoveFiles(dir string, names ...string) error {
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("keystore: %w", err)
		}
	}
	return SyncDir(dir)
}

// ReadFile reads dir/name. A missing file gives an error wrapping
// keystore.ErrNotFound when notFound is true, so callers can use it for the
// file whose presence defines a key.
func ReadFile(dir, name string, notFound bool) ([]byte, error) {
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		if notFound && errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: %w", p, keystore.ErrNotFound)
		}
		return nil, fmt.Errorf("keystore: %w", err)
	}
	return b, nil
}

// DecodeJSON parses the contents of the metadata file at path into v.
// Unknown fields are refused so that a typo in a hand-edited file is seen.
func DecodeJSON(path string, data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("keystore: corrupted metadata file %s: %w", path, err)
	}
	if dec.More() {
		return fmt.Errorf("keystore: corrupted metadata file %s: trailing data", path)
	}
	return nil
}

// CheckMeta validates metadata read from path and checks it belongs to the
// key id the file name says and to backend.
func CheckMeta(path, id, backend string, m keystore.Meta) error {
	if err := keyutil.Validate(m); err != nil {
		return fmt.Errorf("keystore: corrupted metadata file %s: %w", path, err)
	}
	if m.ID != id {
		return fmt.Errorf("keystore: corrupted metadata file %s: id %q does not match the file name", path, m.ID)
	}
	if m.Backend != backend {
		return fmt.Errorf("keystore: metadata file %s belongs to backend %q, not %q", path, m.Backend, backend)
	}
	return nil
}

// ListIDs returns the IDs of the keys whose metadata files are in dir. Files
// that are not "<id>.json" (temporary files, other files) are ignored; a
// name that ends in .json but has a malformed ID is an error, because it
// may be a key the operator expects to see.
func ListIDs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	var ids []string
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, MetaSuffix) {
			continue
		}
		id := strings.TrimSuffix(name, MetaSuffix)
		if !keyutil.ValidID(id) {
			return nil, fmt.Errorf("keystore: unexpected metadata file %s: name is not <key id>%s", filepath.Join(dir, name), MetaSuffix)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// EncodeJSON encodes v as indented JSON ending in a newline, for files an
// operator may read.
func EncodeJSON(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keystore: encode metadata: %w", err)
	}
	return append(b, '\n'), nil
}
