package file

import (
	"fmt"
	"os"
	"syscall"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/internal/fsutil"
	"github.com/signetdns/signet/keystore/internal/keyutil"
)

// index is the metadata of every key in the directory, by zone, as of the directory's state
// stamp. Reading every metadata file for each List made a server with thousands of zones
// quadratic: ten thousand zones, twenty thousand files read per zone. Metadata never changes
// once written, and a key is added or removed only by creating, renaming or unlinking a file,
// each of which moves the directory's modification time; so while the stamp holds, the index
// does. Create and Delete of this Store update it in place. It assumes, as the state directory
// does, that one process writes the directory: a change by another process in the same clock
// tick as one of ours could go unseen until the next change.
type index struct {
	stamp  stamp
	byZone map[string][]keystore.Meta // each sorted
	all    int
}

// stamp identifies a state of the directory: its inode and modification time.
type stamp struct {
	ino     uint64
	sec     int64
	nsec    int64
	present bool
}

func stampOf(dir string) (stamp, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return stamp{}, fmt.Errorf("keystore: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		// No inode to compare: never trust the index.
		return stamp{}, nil
	}
	return stamp{ino: st.Ino, sec: st.Mtim.Sec, nsec: st.Mtim.Nsec, present: true}, nil
}

// list returns the metadata of zone's keys ("" = all), sorted; s.guard must be held (read).
func (s *Store) list(zone string) ([]keystore.Meta, error) {
	st, err := stampOf(s.dir)
	if err != nil {
		return nil, err
	}
	s.imu.Lock()
	defer s.imu.Unlock()
	if s.idx == nil || !st.present || s.idx.stamp != st {
		all, err := fsutil.List(s.dir, "", s.readMeta)
		if err != nil {
			s.idx = nil
			return nil, err
		}
		idx := &index{stamp: st, byZone: map[string][]keystore.Meta{}, all: len(all)}
		for _, m := range all {
			idx.byZone[m.Zone] = append(idx.byZone[m.Zone], m)
		}
		s.idx = idx
	}
	if zone != "" {
		return append([]keystore.Meta{}, s.idx.byZone[zone]...), nil
	}
	out := make([]keystore.Meta, 0, s.idx.all)
	for _, ms := range s.idx.byZone {
		out = append(out, ms...)
	}
	keyutil.Sort(out)
	return out, nil
}

// changing runs write, which adds or removes the key files of m, and keeps the index in step
// (add or remove m) when nothing else changed the directory since the index was made; else the
// next List reads the directory again. s.guard must be held (write).
func (s *Store) changing(m keystore.Meta, add bool, write func() error) error {
	before, berr := stampOf(s.dir)
	err := write()
	after, aerr := stampOf(s.dir)
	s.imu.Lock()
	defer s.imu.Unlock()
	if err != nil || berr != nil || aerr != nil || s.idx == nil || !before.present || s.idx.stamp != before {
		s.idx = nil
		return err
	}
	ms := s.idx.byZone[m.Zone]
	if add {
		ms = append(ms, m)
		keyutil.Sort(ms)
		s.idx.all++
	} else {
		for i := range ms {
			if ms[i].ID == m.ID {
				ms = append(ms[:i:i], ms[i+1:]...)
				s.idx.all--
				break
			}
		}
	}
	s.idx.byZone[m.Zone] = ms
	s.idx.stamp = after
	return nil
}
