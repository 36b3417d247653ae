package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/admin/client"
	"github.com/signetdns/signet/keymgr"
)

func init() { extraCommands = dnssecCommands }

// dnssecCommands are the DNSSEC commands: thin clients of the running server's admin API.
func dnssecCommands(v *viper.Viper) []*cobra.Command {
	return []*cobra.Command{newDNSSECCmd(v), newKSKCmd(v), newZSKCmd(v), newDSCmd(v)}
}

// apiCall is one admin API call that answers the zone's DNSSEC.
type apiCall func(ctx context.Context, c *client.Client) (*admin.DNSSEC, error)

// callAPI makes the call against the server of v's settings and prints its answer with show.
func callAPI(v *viper.Viper, c *cobra.Command, call apiCall, show func(io.Writer, *admin.DNSSEC)) error {
	cl, err := adminClient(c, v)
	if err != nil {
		return err
	}
	d, err := call(c.Context(), cl)
	if err != nil {
		return err
	}
	show(c.OutOrStdout(), d)
	return nil
}

func newDNSSECCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{Use: "dnssec", Short: "Show, enable or disable DNSSEC signing of a zone"}
	run := func(call func(c *cobra.Command, zone string) apiCall) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			return callAPI(v, c, call(c, args[0]), printStatus)
		}
	}
	status := &cobra.Command{Use: "status ZONE", Short: "Show the zone's signing status, every key with its state and next transition, and its KSKs (GetDNSSEC)", Args: cobra.ExactArgs(1),
		RunE: run(func(_ *cobra.Command, z string) apiCall {
			return func(ctx context.Context, cl *client.Client) (*admin.DNSSEC, error) { return cl.GetDNSSEC(ctx, z) }
		})}
	enable := &cobra.Command{Use: "enable ZONE", Short: "Sign the zone (needs an ACTIVE KSK)", Args: cobra.ExactArgs(1),
		RunE: run(func(_ *cobra.Command, z string) apiCall {
			return func(ctx context.Context, cl *client.Client) (*admin.DNSSEC, error) { return cl.Enable(ctx, z) }
		})}
	disable := &cobra.Command{Use: "disable ZONE", Short: "Serve the zone unsigned (refused while the parent publishes a DS, unless --force)", Args: cobra.ExactArgs(1),
		RunE: run(func(c *cobra.Command, z string) apiCall {
			force, _ := c.Flags().GetBool("force")
			return func(ctx context.Context, cl *client.Client) (*admin.DNSSEC, error) { return cl.Disable(ctx, z, force) }
		})}
	disable.Flags().Bool("force", false, "disable even though the parent still publishes a DS (the zone turns bogus for validating resolvers)")
	cmd.AddCommand(status, enable, disable, newPlanCmd(v))
	return cmd
}

func printStatus(w io.Writer, d *keymgr.DNSSEC) {
	fmt.Fprintf(w, "zone %s: %s", d.Zone, d.Status.ServeSignature)
	if d.Status.StatusMessage != "" {
		fmt.Fprintf(w, " (%s)", d.Status.StatusMessage)
	}
	fmt.Fprintln(w)
	printRollover(w, d)
	printKeys(w, d)
	fmt.Fprintln(w)
	printKSKs(w, d)
}

// printRollover prints the zone's rollover settings and whether a rollover runs or waits.
func printRollover(w io.Writer, d *keymgr.DNSSEC) {
	r := d.Rollover
	fmt.Fprintf(w, "rollover: KSK %s, ZSK lifetime %s", r.KSKRollover, r.ZSKLifetime)
	if r.Algorithm != 0 {
		fmt.Fprintf(w, ", algorithm %s", algName(r.Algorithm))
	}
	switch {
	case r.Rolling != "" && r.AlgorithmFrom != 0:
		// An algorithm rollover moves both keys; the planner drives it as a KSK rollover,
		// which is not what an operator should read.
		fmt.Fprint(w, "; algorithm rollover in progress")
	case r.Rolling != "":
		fmt.Fprintf(w, "; %s rollover in progress", r.Rolling)
	}
	fmt.Fprintln(w)
	if r.AlgorithmFrom != 0 {
		fmt.Fprintf(w, "algorithm rollover %s -> %s: %s\n", algName(r.AlgorithmFrom), algName(r.AlgorithmTo), r.AlgorithmStep)
	}
	if r.Paused {
		fmt.Fprintf(w, "PAUSED: %s\n", r.Reason)
	}
}

// algName is "13 (ECDSAP256SHA256)".
func algName(a int) string {
	return fmt.Sprintf("%d (%s)", a, dns.AlgorithmToString[uint8(a)])
}

// printKeys prints every key of the zone: role, tag, RFC 7583 state, and its next
// transition (time and what).
func printKeys(w io.Writer, d *keymgr.DNSSEC) {
	if len(d.Keys) == 0 {
		fmt.Fprintln(w, "no keys")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tROLE\tTAG\tALG\tSTATE\tSTATUS\tNEXT\tNEXT EVENT\tNOTE")
	for _, k := range d.Keys {
		name := k.Name
		if name == "" {
			name = k.ID
		}
		next, event := "-", "-"
		if !k.Next.IsZero() {
			next, event = k.Next.UTC().Format(time.RFC3339), k.NextEvent
		}
		status := k.Status
		if status == "" {
			status = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", name, k.Role, k.KeyTag, k.Algorithm, k.State, status, next, event, k.Note)
	}
	tw.Flush()
}

func printKSKs(w io.Writer, d *keymgr.DNSSEC) {
	if len(d.KeySigningKeys) == 0 {
		fmt.Fprintln(w, "no KSKs")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATUS\tKEY TAG\tALGORITHM\tSTORE\tCREATED\tMESSAGE")
	for _, k := range d.KeySigningKeys {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d (%s)\t%s\t%s\t%s\n", k.Name, k.Status, k.KeyTag, k.SigningAlgorithmType,
			k.SigningAlgorithmMnemonic, k.KeyStore, k.CreatedDate.Format("2006-01-02T15:04:05Z07:00"), k.StatusMessage)
	}
	tw.Flush()
}

func newKSKCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{Use: "ksk", Short: "Manage a zone's key-signing keys (at most 2)"}
	call := func(c *cobra.Command, f apiCall) error { return callAPI(v, c, f, printKSKs) }
	create := &cobra.Command{Use: "create ZONE NAME", Short: "Create a KSK (and the zone's ZSK if it has none)", Args: cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			status, _ := c.Flags().GetString("status")
			req := admin.CreateKSKRequest{Name: args[1], Status: strings.ToUpper(status)}
			return call(c, func(ctx context.Context, cl *client.Client) (*admin.DNSSEC, error) {
				return cl.CreateKSK(ctx, args[0], req)
			})
		}}
	create.Flags().String("status", "ACTIVE", "initial status: ACTIVE or INACTIVE")
	action := func(verb, short string, op func(cl *client.Client, ctx context.Context, zone, name string) (*admin.DNSSEC, error)) *cobra.Command {
		return &cobra.Command{Use: verb + " ZONE NAME", Short: short, Args: cobra.ExactArgs(2),
			RunE: func(c *cobra.Command, args []string) error {
				return call(c, func(ctx context.Context, cl *client.Client) (*admin.DNSSEC, error) {
					return op(cl, ctx, args[0], args[1])
				})
			}}
	}
	del := action("delete", "Delete an INACTIVE KSK and its private key", (*client.Client).DeleteKSK)
	list := &cobra.Command{Use: "list ZONE", Short: "List the zone's KSKs", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return call(c, func(ctx context.Context, cl *client.Client) (*admin.DNSSEC, error) { return cl.GetDNSSEC(ctx, args[0]) })
		}}
	dsSeen := action("ds-seen", "Confirm that the parent publishes this (new) KSK's DS and no longer the old one (automatic rollover)", (*client.Client).ConfirmDS)
	cmd.AddCommand(create, action("activate", "Activate a KSK: publish it and sign the DNSKEY RRset with it", (*client.Client).ActivateKSK),
		action("deactivate", "Deactivate a KSK: withdraw it from the DNSKEY RRset", (*client.Client).DeactivateKSK), del, list, dsSeen,
		newRolloverCmd(v, "ksk", "Start a KSK rollover now (automatic KSK rollover only): double-KSK, CDS/CDNSKEY, parent DS checks"))
	return cmd
}

func newZSKCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{Use: "zsk", Short: "Manage a zone's zone-signing keys"}
	cmd.AddCommand(newRolloverCmd(v, "zsk", "Start a ZSK pre-publish rollover now, whatever the key's lifetime"))
	return cmd
}

// newRolloverCmd is `signet ksk|zsk rollover ZONE --now`: an immediate rollover, the fastest
// sequence that keeps every cached answer valid. Scheduled rollovers follow the lifetimes.
func newRolloverCmd(v *viper.Viper, role, short string) *cobra.Command {
	c := &cobra.Command{Use: "rollover ZONE --now", Short: short, Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			now, _ := c.Flags().GetBool("now")
			if !now {
				return fmt.Errorf("rollovers follow the key lifetimes; pass --now to start one immediately")
			}
			return callAPI(v, c, func(ctx context.Context, cl *client.Client) (*admin.DNSSEC, error) {
				return cl.Rollover(ctx, args[0], role)
			}, printStatus)
		}}
	c.Flags().Bool("now", false, "start the rollover immediately")
	return c
}

func newDSCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ds ZONE",
		Short: "Print the DS records to give the parent zone (one per KSK)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			format, _ := c.Flags().GetString("format")
			asJSON, _ := c.Flags().GetBool("json")
			if asJSON {
				format = "json"
			}
			cl, err := adminClient(c, v)
			if err != nil {
				return err
			}
			d, err := cl.GetDNSSEC(c.Context(), args[0])
			if err != nil {
				return err
			}
			return printDS(c.OutOrStdout(), d, format)
		},
	}
	cmd.Flags().String("format", "table", "output: table, zone (DS records in zone-file form only: a trust anchor), or json")
	cmd.Flags().Bool("json", false, "same as --format json")
	return cmd
}

// printDS prints the DS records of the zone's KSKs. In zone format only ACTIVE (or
// ACTION_NEEDED, still published) KSKs are printed: an INACTIVE KSK is not in the DNSKEY
// RRset, so its DS would be no trust anchor.
func printDS(w io.Writer, d *keymgr.DNSSEC, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d.KeySigningKeys)
	case "zone":
		n := 0
		for _, k := range d.KeySigningKeys {
			if k.Status != keymgr.StatusInactive && k.DSZoneFile != "" {
				fmt.Fprintln(w, k.DSZoneFile)
				n++
			}
		}
		if n == 0 {
			return fmt.Errorf("zone %s has no published KSK", d.Zone)
		}
		return nil
	case "table", "":
		for i, k := range d.KeySigningKeys {
			if i > 0 {
				fmt.Fprintln(w)
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "KSK\t%s (%s)\n", k.Name, k.Status)
			fmt.Fprintf(tw, "Key tag\t%d\n", k.KeyTag)
			fmt.Fprintf(tw, "Algorithm\t%d (%s)\n", k.SigningAlgorithmType, k.SigningAlgorithmMnemonic)
			fmt.Fprintf(tw, "Digest type\t%d (%s)\n", k.DigestAlgorithmType, k.DigestAlgorithmMnemonic)
			fmt.Fprintf(tw, "Digest\t%s\n", k.DigestValue)
			fmt.Fprintf(tw, "DS record\t%s\n", k.DSZoneFile)
			fmt.Fprintf(tw, "DNSKEY record\t%s\n", k.DNSKEYZoneFile)
			fmt.Fprintf(tw, "Public key\t%s\n", k.PublicKey)
			tw.Flush()
		}
		return nil
	}
	return fmt.Errorf("--format %q: want table, zone or json", format)
}
