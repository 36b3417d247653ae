package xfr

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/miekg/dns"
)

// A saved copy is two files: the zone as a master file, and beside it a small JSON file with
// the time of the last successful refresh and the serial it refers to. A refresh that finds
// the zone unchanged rewrites only the small file. Each is written atomically (temporary file,
// fsync, rename, fsync of the directory); if the process dies between the two, the serials
// differ and the zone file's modification time stands for the refresh time, which is never
// later than the real one.

// meta is the JSON beside a saved copy.
type meta struct {
	Serial    uint32    `json:"serial"`
	Refreshed time.Time `json:"refreshed"`
}

func metaPath(path string) string { return path + ".refreshed" }

// saveZone writes rrs (SOA first) to path as a master file.
func saveZone(path, origin string, rrs []dns.RR) error {
	return writeAtomic(path, func(w *bufio.Writer) error {
		fmt.Fprintf(w, "; secondary copy of %s, written by signet after a zone transfer\n$ORIGIN %s\n", origin, origin)
		for _, rr := range rrs {
			if _, err := w.WriteString(rr.String()); err != nil {
				return err
			}
			w.WriteByte('\n')
		}
		return nil
	})
}

func saveMeta(path string, m meta) error {
	return writeAtomic(metaPath(path), func(w *bufio.Writer) error {
		return json.NewEncoder(w).Encode(m)
	})
}

// loadCopy reads a saved copy. It returns fs.ErrNotExist (wrapped) when there is none.
func loadCopy(path, origin string) (rrs []dns.RR, refreshed time.Time, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	zp := dns.NewZoneParser(bufio.NewReader(f), origin, path)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, time.Time{}, fmt.Errorf("saved copy %s: %w", path, err)
	}
	soa := findSOA(rrs)
	if soa == nil {
		return nil, time.Time{}, fmt.Errorf("saved copy %s: no SOA record", path)
	}
	refreshed = fi.ModTime()
	var m meta
	if b, err := os.ReadFile(metaPath(path)); err == nil && json.Unmarshal(b, &m) == nil && m.Serial == soa.Serial && !m.Refreshed.IsZero() {
		refreshed = m.Refreshed
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, time.Time{}, err
	}
	return rrs, refreshed, nil
}

// writeAtomic replaces path with what fill writes, so that a reader (or a restart after a
// crash) sees the old file or the new one, never a part. Files are 0600 in a 0700 directory:
// a zone may hold names its operator does not publish.
func writeAtomic(path string, fill func(*bufio.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	w := bufio.NewWriterSize(tmp, 64<<10)
	if err := fill(w); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// findSOA returns the first SOA record of rrs, or nil.
func findSOA(rrs []dns.RR) *dns.SOA {
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}
