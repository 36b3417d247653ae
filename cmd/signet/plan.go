package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/signetdns/signet/forecast"
)

// newPlanCmd is `signet dnssec plan ZONE`: the coming rollover events of the zone under its
// current keys and policy, computed by the running server (it knows the keys, the policy and
// the zone's TTLs), with the policy checked against RFC 7583.
func newPlanCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan ZONE",
		Short: "Show the zone's coming rollover events and check its policy against RFC 7583 (exit 1 on an error)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			horizon, _ := c.Flags().GetString("for")
			h, err := forecast.ParseDuration(horizon)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--for: %w", err)}
			}
			var f *forecast.Forecast
			if path, _ := c.Flags().GetString("policy"); path != "" {
				f, err = offlinePlan(path, args[0], h, time.Now())
				if err != nil {
					return &exitError{code: 1, err: err}
				}
			} else {
				cl, err := adminClient(c, v)
				if err != nil {
					return err
				}
				if f, err = cl.Plan(c.Context(), args[0], horizon); err != nil {
					return err
				}
			}
			if asJSON, _ := c.Flags().GetBool("json"); asJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(f); err != nil {
					return err
				}
			} else {
				printForecast(c.OutOrStdout(), f)
			}
			if path, _ := c.Flags().GetString("svg"); path != "" {
				if err := writeSVG(path, f); err != nil {
					return err
				}
			}
			for _, fd := range f.Findings {
				if fd.Severity == forecast.Error {
					return &exitError{code: 1, err: fmt.Errorf("the policy of %s has errors (above)", f.Zone)}
				}
			}
			return nil
		},
	}
	cmd.Flags().String("for", "400d", "how far ahead: a duration, days allowed (400d, 36h)")
	cmd.Flags().String("svg", "", "also write the timeline picture to this file (SVG)")
	cmd.Flags().Bool("json", false, "print the forecast as JSON (the API's answer) instead of the table")
	cmd.Flags().String("policy", "", "plan from this configuration file instead of asking the server: the zone signed from now, with fresh keys, under the file's policy (before putting it in place)")
	return cmd
}

func writeSVG(path string, f *forecast.Forecast) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f.SVG(out); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func printForecast(w io.Writer, f *forecast.Forecast) {
	p := f.Policy
	fmt.Fprintf(w, "zone %s: rollover plan %s to %s\n", f.Zone, f.From.UTC().Format(time.RFC3339), f.Until.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "policy: ZSK lifetime %s; KSK rollover %s", p.ZSKLifetime, p.KSKRollover)
	if p.KSKRollover == "automatic" {
		fmt.Fprintf(w, " every %s", p.KSKLifetime)
	}
	fmt.Fprintf(w, "; DNSKEY TTL %s, largest zone TTL %s, propagation delay %s\n", p.DNSKEYTTL, p.MaxZoneTTL, p.PropagationDelay)
	fmt.Fprintf(w, "RFC 7583: Ipub %s, Iret %s, DS swap wait %s (parent propagation %s + DS TTL %s); the parent is assumed to follow CDS after %s\n\n",
		p.PublishInterval, p.RetireInterval, p.DSSwapInterval, p.ParentPropagation, p.ParentDSTTL, p.ParentDelay)
	if len(f.Events) == 0 {
		fmt.Fprintln(w, "no events planned")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "WHEN\tIN\tROLE\tKEY\tEVENT\tDETAIL")
		for _, e := range f.Events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.At.UTC().Format(time.RFC3339), forecast.Duration(e.At.Sub(f.From).Round(time.Minute)), e.Role, e.Key, e.What, e.Detail)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	if len(f.Findings) == 0 {
		fmt.Fprintln(w, "policy check: every interval is long enough for the zone's TTLs (RFC 7583)")
	}
	for _, fd := range f.Findings {
		fmt.Fprintf(w, "%s %s: %s\n", fd.Severity, fd.Interval, fd.Message)
	}
}
