// Package rollover plans DNSSEC key rollovers: given a zone's keys (each a timeline of
// timestamps), its Policy and now, Plan returns the actions due and when it must run next.
// It is pure: no clock, no I/O, no keystore. keymgr executes the actions (keystore, parent DS
// queries), records their effect with Apply and rebuilds the zone's key ring at the times Plan
// returns. It imports only keystore (for Role).
package rollover
