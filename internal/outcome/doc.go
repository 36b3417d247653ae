// Package outcome names what a zone lookup found, in the terms both the zones package (which
// produces it) and the signer (which proves it) use. The two packages must not import each
// other, so the vocabulary they share lives here, once: a lookup result reaches the signer
// without any translation that could fall out of step.
//
// It imports only the standard library.
package outcome
