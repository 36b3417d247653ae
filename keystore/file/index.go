package file

import (
	"errors"
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
	byID   map[string]keystore.Meta
	all    int
	// unreadable are the metadata files that could not be read, which List leaves out and
	// reports (keystore.UnreadableError) as long as the directory does not change.
	unreadable []keystore.Unreadable
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
	// The stamp is taken under the lock that changing holds while this Store changes the
	// directory, so that a change of ours under way is never mistaken for another's.
	s.imu.Lock()
	defer s.imu.Unlock()
	st, err := stampOf(s.dir)
	if err != nil {
		return nil, err
	}
	idx := s.idx
	if idx == nil || !st.present || idx.stamp != st {
		// The directory is read without the lock: reading thousands of metadata files
		// takes a good part of a second, and a key's first decryption (which takes its
		// metadata from the index: indexed) or a new key must not wait for it. What was
		// read becomes the index only if the directory did not change meanwhile.
		s.imu.Unlock()
		all, err := fsutil.List(s.dir, "", s.readMeta)
		s.imu.Lock()
		var ue *keystore.UnreadableError
		if err != nil && !errors.As(err, &ue) {
			s.idx = nil
			return nil, err
		}
		idx = &index{stamp: st, byZone: map[string][]keystore.Meta{}, byID: make(map[string]keystore.Meta, len(all)), all: len(all)}
		if ue != nil {
			idx.unreadable = ue.Entries
		}
		for _, m := range all {
			idx.byZone[m.Zone] = append(idx.byZone[m.Zone], m)
			idx.byID[m.ID] = m
		}
		if now, err := stampOf(s.dir); err == nil && st.present && now == st {
			s.idx = idx
		}
	}
	if idx == s.idx && len(idx.unreadable) > 0 {
		s.recheck(idx)
	}
	var bad []keystore.Unreadable
	for _, u := range idx.unreadable {
		if zone == "" || u.Zone == zone {
			bad = append(bad, u)
		}
	}
	var out []keystore.Meta
	if zone != "" {
		out = append([]keystore.Meta{}, idx.byZone[zone]...)
	} else {
		out = make([]keystore.Meta, 0, idx.all)
		for _, ms := range idx.byZone {
			out = append(out, ms...)
		}
		keyutil.Sort(out)
	}
	if len(bad) > 0 {
		return out, &keystore.UnreadableError{Entries: bad}
	}
	return out, nil
}

// recheck reads again the metadata files of idx's unreadable entries: a repair that rewrites
// a file in place does not move the directory's time, yet must end the report and list the
// key. They are few (a directory's damaged files), so List reading them each time costs
// little. Call with s.imu held.
func (s *Store) recheck(idx *index) {
	kept := idx.unreadable[:0]
	for _, u := range idx.unreadable {
		if u.ID == "" {
			kept = append(kept, u) // a stray name: renaming or removing it moves the directory's time
			continue
		}
		m, err := s.readMeta(u.ID)
		var ee *keyutil.EntryError
		switch {
		case err == nil:
			idx.add(m)
		case errors.As(err, &ee):
			kept = append(kept, keystore.Unreadable{ID: u.ID, Zone: ee.Zone, Where: ee.Where, Err: ee.Err})
		case !errors.Is(err, keystore.ErrNotFound):
			kept = append(kept, u)
		}
	}
	clear(idx.unreadable[len(kept):])
	idx.unreadable = kept
}

// changing runs op, which changes the directory (creates, renames or removes files), holding
// the index's lock, and keeps the index in step (apply, when set, records the change) when
// nothing else changed the directory since the index was made; else the next List reads the
// directory again. Every change this Store makes to the directory goes through it, also
// when concurrent: the stamp taken before op is the index's only while no other change
// slipped in between.
func (s *Store) changing(op func() error, apply func(*index)) error {
	s.imu.Lock()
	defer s.imu.Unlock()
	if s.idx == nil {
		// No index to keep in step (none was read yet: a first start creates every key
		// before anything lists them): the next List reads the directory anyway.
		return op()
	}
	before, berr := stampOf(s.dir)
	err := op()
	after, aerr := stampOf(s.dir)
	if err != nil || berr != nil || aerr != nil || s.idx == nil || !before.present || s.idx.stamp != before {
		s.idx = nil
		return err
	}
	if apply != nil {
		apply(s.idx)
	}
	s.idx.stamp = after
	return nil
}

// add records the metadata of a new key.
func (x *index) add(m keystore.Meta) {
	ms := append(x.byZone[m.Zone], m)
	keyutil.Sort(ms)
	x.byZone[m.Zone] = ms
	x.byID[m.ID] = m
	x.all++
}

// remove forgets a deleted key.
func (x *index) remove(m keystore.Meta) {
	ms := x.byZone[m.Zone]
	for i := range ms {
		if ms[i].ID == m.ID {
			x.byZone[m.Zone] = append(ms[:i:i], ms[i+1:]...)
			delete(x.byID, m.ID)
			x.all--
			return
		}
	}
}

// indexed returns id's metadata from the index, if the index has it. Metadata never changes
// once written, so even an index that another process's change made stale gives it right;
// whether the key still exists is for the caller to check.
func (s *Store) indexed(id string) (keystore.Meta, bool) {
	s.imu.Lock()
	defer s.imu.Unlock()
	if s.idx == nil {
		return keystore.Meta{}, false
	}
	m, ok := s.idx.byID[id]
	return m, ok
}
