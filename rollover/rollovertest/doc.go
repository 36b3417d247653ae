// Package rollovertest checks a zone's key timeline against a model of resolver caches, the
// RFC 7583 conditions that every rollover must keep. It is a test helper: the rollover
// package's two-year simulation and keymgr's tests feed it what the zone served over time.
//
// It imports rollover and keystore (for Role), and no other Signet package.
package rollovertest
