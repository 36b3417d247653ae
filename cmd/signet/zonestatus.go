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
		Short: "Show every zone of the running server: loaded, stale or SERVFAIL, serial, the failing load's error (exit 1 when one is not loaded)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := adminClient(cmd, v)
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

// printZones prints one row per zone: loaded, stale (its last reload failed and the previous
// version serves) or SERVFAIL; the failing load's error, if any, is the last column.
func printZones(w io.Writer, zs []admin.ZoneStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tSTATE\tSERIAL\tFROM\tERROR")
	for _, z := range zs {
		state, serial := "SERVFAIL", "-"
		if z.Loaded {
			state, serial = "loaded", fmt.Sprint(z.Serial)
			if z.Failing {
				state = "stale" // the last reload failed; the previous version serves
			}
		}
		errText := z.Error
		if errText == "" {
			errText = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", z.Zone, state, serial, z.From, errText)
	}
	tw.Flush()
}
