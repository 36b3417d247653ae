// Package server is Signet's request pipeline and its sockets: UDP and TCP listeners, EDNS(0),
// truncation, the admin HTTP listener and metrics. It composes the zones package (what to
// answer) with the signer (how to sign it) through small interfaces declared here, so that its
// tests can use fakes. It reads no configuration files: cmd builds a Config and hands it over.
package server
