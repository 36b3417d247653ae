// Command signet is an authoritative DNS nameserver that signs its zones online with DNSSEC.
// It is thin: it parses flags and configuration, builds the components and wires them.
package main

import (
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "signet:", err)
		os.Exit(exitCode(err))
	}
}
