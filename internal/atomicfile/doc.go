// Package atomicfile writes files so that a crash leaves either the old contents or the new,
// never a mix, and keeps private directories private. It is the one home of this for every
// package that persists something to disk (the keystores and the zone state store).
//
// It imports the standard library and golang.org/x/sys/unix (syncfs).
package atomicfile
