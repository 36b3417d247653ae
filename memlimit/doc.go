// Package memlimit keeps the process's memory bounded by configuration rather than by a
// multiple of the live heap. It derives the Go runtime's soft memory limit (GOMEMLIMIT's
// setting) from a configured size or from the cgroup the process runs in, and keeps the
// collector's headroom over the live heap bounded in bytes: GOGC is a multiple, so a zone of a
// million names would otherwise multiply the heap along with it.
//
// It imports no other Signet package.
package memlimit
