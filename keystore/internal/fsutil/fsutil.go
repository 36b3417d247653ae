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

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/internal/keyutil"
)

// DirMode and FileMode are the permissions of the key directory and every
// file in it: nobody but the owner may list or read keys.
const (
	DirMode  = atomicfile.DirMode
	FileMode = atomicfile.FileMode
)

// MetaSuffix ends the name of every metadata file: "<id>.json".
const MetaSuffix = ".json"

// PrepareDir creates the key directory 0700, or tightens it to 0700 (the keys
// in it are encrypted or TPM-wrapped, and refusing to start over a mode bit
// helps nobody).
func PrepareDir(dir string) error {
	if err := atomicfile.PrepareDir(dir); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// WriteAtomic writes data to dir/name with mode 0600 so that a crash leaves
// either the old file or the new one, never a mix.
func WriteAtomic(dir, name string, data []byte) error {
	if err := atomicfile.Write(dir, name, data); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// RemoveFiles removes dir/name for each name, ignoring files that are
// already gone, then fsyncs dir.
func RemoveFiles(dir string, names ...string) error {
	if err := atomicfile.Remove(dir, names...); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
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

// List returns the metadata of the keys in dir that belong to zone ("" for every zone), in
// keystore order, read with read, as keyutil.Collect does: a metadata file that cannot be
// read (read returns a keyutil.EntryError for it), or whose name is no key ID's, is left out
// and named in the *keystore.UnreadableError returned with the others.
func List(dir, zone string, read func(id string) (keystore.Meta, error)) ([]keystore.Meta, error) {
	zone, err := keyutil.ZoneFilter(zone)
	if err != nil {
		return nil, err
	}
	ids, bad, err := scanIDs(dir)
	if err != nil {
		return nil, err
	}
	return keyutil.Collect(zone, ids, bad, read)
}

// Exists reports an error wrapping keystore.ErrNotFound when key id has no metadata file in
// dir (the metadata file is what makes a key exist).
func Exists(dir, id string) error {
	if _, err := os.Stat(filepath.Join(dir, id+MetaSuffix)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("key %q: %w", id, keystore.ErrNotFound)
		}
		return fmt.Errorf("keystore: %w", err)
	}
	return nil
}

// scanIDs returns the IDs of the metadata files in dir, and the files whose name ends in
// .json but has a malformed ID (perhaps a key the operator expects to see, so reported).
func scanIDs(dir string) (ids []string, bad []keystore.Unreadable, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, MetaSuffix) {
			continue
		}
		id := strings.TrimSuffix(name, MetaSuffix)
		if !keyutil.ValidID(id) {
			p := filepath.Join(dir, name)
			bad = append(bad, keystore.Unreadable{Where: p,
				Err: fmt.Errorf("keystore: unexpected metadata file %s: name is not <key id>%s", p, MetaSuffix)})
			continue
		}
		ids = append(ids, id)
	}
	return ids, bad, nil
}

// ReadMeta reads the metadata file of key id in dir into v: a missing file is an error
// wrapping keystore.ErrNotFound, one that cannot be read or decoded a keyutil.EntryError,
// as is what check (nil: nothing more) finds wrong with v.
func ReadMeta(dir, id string, v any, check func(path string) error) error {
	name := id + MetaSuffix
	path := filepath.Join(dir, name)
	b, err := ReadFile(dir, name, true)
	if errors.Is(err, keystore.ErrNotFound) {
		return err
	}
	if err == nil {
		err = DecodeJSON(path, b, v)
	}
	if err == nil && check != nil {
		err = check(path)
	}
	if err != nil {
		return keyutil.BadEntry(path, b, err)
	}
	return nil
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
