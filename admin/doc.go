// Package admin is Signet's admin API: the HTTP listener an operator (or the signet CLI)
// manages a running server through, its JSON request and response types, the handler of the
// DNSSEC calls shaped after Route 53's (GetDNSSEC, Create/Activate/Deactivate/
// DeleteKeySigningKey, Enable/DisableHostedZoneDNSSEC) with Route 53's error codes and HTTP
// statuses, and the read-only endpoints beside them (/healthz, /metrics, profiles).
//
// The package admin/client is the typed Go client of this API.
//
// admin imports keymgr (whose operations and refusals it serves) and server only for the type
// of a zone's load state; zone reloads and that state reach it as functions.
package admin
