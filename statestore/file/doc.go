// Package file is the statestore.Store of a single Signet: one file per zone document in a
// private directory, "<zone>.json" for the key state and "<zone>.premade" for the pre-made
// KSK signatures ("root.json" for the root zone), 0600 in a 0700 directory, each written
// atomically through internal/atomicfile.
//
// A document's revision is a 64-bit hash of its contents, so it needs no extra file and
// survives a restart; a compare-and-swap reads, compares and writes under an exclusive
// flock(2) on the directory's ".lock" file, so two Stores on one directory (two processes
// by mistake) cannot overwrite each other's newer state either.
//
// file imports statestore and internal/atomicfile.
package file
