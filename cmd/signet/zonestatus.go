package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/signetdns/signet/admin"
)

func newZoneStatusCmd(v *viper.Viper) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show every zone of the running server: loaded or not (SERVFAIL), serial, the last load error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := adminClient(v)
			if err != nil {
				return err
			}
			out, err := cl.Zones(cmd.Context())
			if err != nil {
				return err
			}
			printZones(cmd.OutOrStdout(), out.Zones)
			for _, z := range out.Zones {
				if !z.Loaded {
					return &exitError{code: 1, err: fmt.Errorf("zone %s is not loaded", z.Zone)}
				}
			}
			return nil
		},
	}
}

// printZones prints one row per zone; the error, if any, is the last column.
func printZones(w io.Writer, zs []admin.ZoneStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tSTATE\tSERIAL\tFAILURES\tFROM\tERROR")
	for _, z := range zs {
		state, serial := "SERVFAIL", "-"
		if z.Loaded {
			state, serial = "loaded", fmt.Sprint(z.Serial)
		}
		errText := z.Error
		if errText == "" {
			errText = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", z.Zone, state, serial, z.Failures, z.From, errText)
	}
	tw.Flush()
}
