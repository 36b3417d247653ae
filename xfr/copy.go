package xfr

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/atomicfile"
)

// A saved copy is two files: the zone as a master file, and beside it a small JSON file with
// the time of the last successful refresh and the serial it refers to. A refresh that finds
// the zone unchanged rewrites only the small file. Each is written atomically (temporary file,
// fsync, rename, fsync of the directory); if the process dies between the two, the serials
// differ and the zone file's modification time stands for the refresh time, which is never
// later than the real one. The directory must exist (the caller prepares it).

// meta is the JSON beside a saved copy.
type meta struct {
	Serial    uint32    `json:"serial"`
	Refreshed time.Time `json:"refreshed"`
}

func metaPath(path string) string { return path + ".refreshed" }

// saveZone writes rrs (SOA first) to path as a master file, 0600: a zone may hold names its
// operator does not publish.
func saveZone(path, origin string, rrs []dns.RR) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "; secondary copy of %s, written by signet after a zone transfer\n$ORIGIN %s\n", origin, origin)
	for _, rr := range rrs {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return atomicfile.Write(filepath.Dir(path), filepath.Base(path), b.Bytes())
}

func saveMeta(path string, m meta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	mp := metaPath(path)
	return atomicfile.Write(filepath.Dir(mp), filepath.Base(mp), append(b, '\n'))
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

// findSOA returns the first SOA record of rrs, or nil.
func findSOA(rrs []dns.RR) *dns.SOA {
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa
		}
	}
	return nil
}
