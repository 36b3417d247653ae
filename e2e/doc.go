// Package e2e holds Signet's end-to-end tests: the real signet binary on loopback, checked by
// real validators (unbound, delv) and clients (dig, kdig). It has no non-test code, and its
// tests import none of the packages under test (the binary is what they test): only the
// admin API's types and client, the test harnesses (internal/resolvertest, tpmtest) and the
// canonical name order (internal/dnsname) to check NSEC chains.
package e2e
