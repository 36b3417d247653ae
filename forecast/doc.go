// Package forecast answers "what will my keys do over the next year?" before it happens. It
// runs the pure rollover planner forward from a zone's current keys and policy, playing the
// key manager's part (creating keys, asking the parent) against a model of a parent that
// acts on CDS (RFC 7344) after a delay, and records every transition: when each key is
// published, becomes active, retires and is removed, when CDS/CDNSKEY are published, and
// when the parent's DS RRset changes. Check compares the policy with the RFC 7583 intervals
// the zone's TTLs require, and SVG draws the result as a timeline with one lane per key.
//
// It is pure (no clock, no I/O beyond the writer SVG is given) and imports only rollover and
// keystore, so the admin API, the CLI and tests all get the same answer from the same input.
package forecast
