// Package fsutil holds the file handling the on-disk keystore backends share:
// metadata files and key IDs as file names, over internal/atomicfile's
// private directories and atomic writes (with keystore's error prefix).
//
// It imports keystore, keystore/internal/keyutil and internal/atomicfile; never a backend.
package fsutil
