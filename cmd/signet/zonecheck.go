package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/signetdns/signet/zones"
)

func newZoneCmd() *cobra.Command {
	zone := &cobra.Command{Use: "zone", Short: "Zone file tools"}
	zone.AddCommand(&cobra.Command{
		Use:   "check FILE [ORIGIN]",
		Short: "Check a zone file like named-checkzone (exit 1 on errors)",
		Long: "Parses FILE and checks it: SOA present, NS at the apex, CNAME beside other data,\n" +
			"out-of-zone data, missing glue, TTL issues. ORIGIN defaults to the file name\n" +
			"without a trailing .zone. Prints file:line: severity: message for each problem.",
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			origin := strings.TrimSuffix(filepath.Base(file), ".zone")
			if len(args) == 2 {
				origin = args[1]
			}
			origin = dnsFqdn(strings.ToLower(origin))
			problems := zones.CheckFile(origin, file)
			errs := 0
			for _, p := range problems {
				fmt.Fprintln(cmd.OutOrStdout(), p.String())
				if p.Severity == "error" {
					errs++
				}
			}
			if errs > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%s: %d error(s)", file, errs)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "zone %s: %s OK\n", origin, file)
			return nil
		},
	})
	return zone
}

func newReloadCmd(v *viper.Viper) *cobra.Command {
	return &cobra.Command{
		Use:   "reload",
		Short: "Ask the running server to re-read its zone files (same as SIGHUP)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := adminClient(cmd, v)
			if err != nil {
				return err
			}
			out, err := cl.Reload(cmd.Context())
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
}
