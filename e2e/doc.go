// Package e2e holds Signet's end-to-end tests: the real signet binary on loopback, checked by
// real validators (unbound, delv) and clients (dig, kdig). It has no non-test code.
package e2e
