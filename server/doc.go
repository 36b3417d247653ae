// Package server is Signet's request pipeline and its sockets: UDP and TCP listeners, EDNS(0),
// truncation, the packet cache and the prepared chain denials beside it, the query steps for
// DNS Cookies and rate limiting, and metrics. It composes the zones package (what to answer)
// with the signer (how to sign it) through small interfaces declared here, so that its tests
// can use fakes. It reads no configuration files: cmd builds a Config and hands it over.
//
// server imports zones, signer, cookie and rrl; never keymgr, a keystore, a state store, the
// admin API or xfr (transfers reach it through the Transfers interface).
package server
