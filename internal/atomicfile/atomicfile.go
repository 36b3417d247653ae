package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// DirMode and FileMode are the permissions of a private directory and of every file written
// into it: nobody but the owner may list or read them.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// PrepareDir creates dir (and its parents) with mode 0700 if it does not exist. If it exists
// with group or world permissions it is tightened to 0700 rather than refused: failing to
// start a server over a mode bit helps nobody, whereas leaving it open would.
func PrepareDir(dir string) error {
	if dir == "" {
		return errors.New("empty directory name")
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if fi.Mode().Perm() != DirMode {
		if err := os.Chmod(dir, DirMode); err != nil {
			return fmt.Errorf("restrict %s to 0700: %w", dir, err)
		}
	}
	return nil
}

// Write writes data to dir/name with mode 0600: a temporary file in the same directory
// (named ".<name>.tmp*", so a reader that ignores dot files never sees one), fsync, rename
// over the target, fsync of the directory so that the rename itself is durable. A crash at
// any point leaves the previous file, and perhaps a stray temporary file that a later Write
// never collides with.
func Write(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp*")
	if err != nil {
		return err
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
		return err
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return SyncDir(dir)
}

// Remove removes dir/name for each name, ignoring files that are already gone, then fsyncs
// dir so that the removals survive a crash.
func Remove(dir string, names ...string) error {
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that renames and removals in it survive a crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
