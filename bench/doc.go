// Package bench holds Signet's end-to-end performance harnesses: Go benchmarks of the whole
// request path (bytes in, bytes out) and, under load/, the dnsperf comparison with peer
// servers. Micro-benchmarks of one package live beside that package's code.
//
// It has no non-test code; its tests import the packages of the request path (server, zones,
// signer) and nothing imports it.
package bench
