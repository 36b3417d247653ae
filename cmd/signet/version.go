package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// commit is set at build time with -ldflags "-X main.commit=..." where the build has no VCS
// information of its own (a tarball, or go build from outside the checkout).
var commit = ""

// buildInfo is what `signet version` prints: enough to tell which source a running binary
// came from when a bug is reported.
type buildInfo struct {
	Version  string // -ldflags version (git describe) or the module version
	Module   string // module path and version as Go recorded it
	Commit   string
	Time     string // commit time
	Modified bool   // built from a tree with uncommitted changes
	Go       string
	Platform string
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Module = bi.Main.Path + " " + bi.Main.Version
	if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Commit == "" {
				b.Commit = s.Value
			}
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func (b buildInfo) print(w io.Writer) {
	fmt.Fprintf(w, "signet %s\n", b.Version)
	if b.Module != "" {
		fmt.Fprintf(w, "module   %s\n", b.Module)
	}
	c := b.Commit
	if c == "" {
		c = "unknown"
	}
	if b.Modified {
		c += " (modified)"
	}
	if b.Time != "" {
		c += " " + b.Time
	}
	fmt.Fprintf(w, "commit   %s\n", c)
	fmt.Fprintf(w, "go       %s %s\n", b.Go, b.Platform)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			readBuildInfo().print(c.OutOrStdout())
			return nil
		},
	}
}
