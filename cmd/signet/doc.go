// Command signet is an authoritative DNS nameserver that signs its zones online with DNSSEC.
// It is thin: it parses flags and configuration, builds the components and wires them.
//
// It is the one place that imports every component and the backends they are given (the
// keystore and state store backends, the admin API, the metrics); no package imports it.
package main
