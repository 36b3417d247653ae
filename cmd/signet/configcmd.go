package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	"github.com/signetdns/signet/forecast"
	"github.com/signetdns/signet/keystore/file"
	"github.com/signetdns/signet/xfr"
	"github.com/signetdns/signet/zones"
)

func newConfigCmd(v *viper.Viper) *cobra.Command {
	cfg := &cobra.Command{Use: "config", Short: "Check or show the configuration serve would use"}
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration without starting anything (exit 1 on problems)",
		Long: "Reads the configuration as `signet serve` would (--config FILE, SIGNET_* variables,\n" +
			"the same flags) and checks it like named-checkconf -z: unknown keys, bad values and\n" +
			"durations, settings that contradict each other, and the files it names (zone files\n" +
			"are parsed and checked as `signet zone check` does, the passphrase file must be 0600).\n" +
			"Every problem names the key or file at fault. Nothing is started or written.",
		Args: cobra.NoArgs,
	}
	checkZones := addServeFlags(v, check)
	check.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := loadConfig(v, *checkZones)
		if err == nil {
			err = checkEnvironment(v, c, cmd.OutOrStdout())
		}
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		where := "flags and environment"
		if f := v.ConfigFileUsed(); f != "" {
			where = f
		}
		fmt.Fprintf(cmd.OutOrStdout(), "config %s: OK (%d zones)\n", where, len(c.Zones))
		return nil
	}
	dump := &cobra.Command{
		Use:   "dump",
		Short: "Print the effective configuration as YAML (defaults, file, environment and flags merged; secrets redacted)",
		Args:  cobra.NoArgs,
	}
	dumpZones := addServeFlags(v, dump)
	dump.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := decodeConfig(v, *dumpZones)
		if err != nil {
			return &exitError{code: 1, err: err}
		}
		return writeConfig(cmd.OutOrStdout(), c)
	}
	cfg.AddCommand(check, dump)
	return cfg
}

// writeConfig prints c as YAML that reads back as the same configuration.
func writeConfig(w io.Writer, c *config) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(dumpNode(reflect.ValueOf(c))); err != nil {
		return err
	}
	return enc.Close()
}

// checkEnvironment checks what a valid config refers to: the log settings, the zone files
// (every problem printed to w as `signet zone check` prints it), the TSIG secret files, the
// passphrase source, the TPM device path, the state directory, and the admin token a
// non-loopback listener needs.
func checkEnvironment(v *viper.Viper, c *config, w io.Writer) error {
	var errs []error
	if _, err := newLogger(v, io.Discard); err != nil {
		errs = append(errs, err)
	}
	for i, z := range c.Zones {
		if len(z.Primaries) > 0 {
			continue // the file, if any, is the transferred copy, made at run time
		}
		nerr := 0
		for _, p := range zones.CheckFile(z.Origin, z.File) {
			fmt.Fprintln(w, p.String())
			if p.Severity == "error" {
				nerr++
			}
		}
		if nerr > 0 {
			errs = append(errs, fmt.Errorf("zones[%d].file: %s (zone %s): %d error(s)", i, z.File, z.Origin, nerr))
			continue
		}
		if err := checkPolicy(c, i, w); err != nil {
			errs = append(errs, err)
		}
	}
	for i, k := range c.TSIGKeys {
		if _, err := xfr.LoadKey(k.Name, k.Algorithm, k.SecretFile); err != nil {
			errs = append(errs, fmt.Errorf("tsig_keys[%d]: %w", i, err))
		}
	}
	if p := c.Keystore.PassphraseFile; p != "" {
		if _, err := file.PassphraseFromFile(p); err != nil {
			errs = append(errs, fmt.Errorf("keystore.passphrase_file: %w", err))
		}
	}
	if e := c.Keystore.PassphraseEnv; e != "" {
		if _, err := file.PassphraseFromEnv(e); err != nil {
			errs = append(errs, fmt.Errorf("keystore.passphrase_env: %w", err))
		}
	}
	if d := c.Keystore.TPM.Device; strings.HasPrefix(d, "/") {
		if _, err := os.Stat(d); err != nil {
			errs = append(errs, fmt.Errorf("keystore.tpm.device: %w", err))
		}
	} else if path, ok := strings.CutPrefix(d, "unix:"); ok {
		if _, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("keystore.tpm.device: %w", err))
		}
	}
	if fi, err := os.Stat(c.State); err == nil && !fi.IsDir() {
		errs = append(errs, fmt.Errorf("state: %s is not a directory", c.State))
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("state: %w", err))
	}
	if a := c.Admin.Addr; a != "" && a != "off" && c.Admin.Token == "" && !loopbackAddr(a) {
		errs = append(errs, fmt.Errorf("admin.token: required when admin.addr (%s) is not a loopback address", a))
	}
	return errors.Join(errs...)
}

// loopbackAddr reports whether host:port names a loopback address ("localhost" counts; an
// empty host means every interface).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkPolicy checks zone i's rollover policy against RFC 7583's intervals for the TTLs of its
// zone file, as `signet dnssec plan` does, printing every finding to w; an error-level finding
// is a configuration error, since a zone signed under it would strand validators or stall.
// Every zone is checked, signed or not: signing can be enabled at run time.
func checkPolicy(c *config, i int, w io.Writer) error {
	z := c.Zones[i]
	p, validity, refresh, _, err := servedPolicy(c, z)
	if err != nil {
		return fmt.Errorf("zones[%d] (zone %s): %w", i, z.Origin, err)
	}
	nerr := 0
	for _, f := range forecast.Check(p, forecast.Options{Validity: validity, Refresh: refresh, NoParents: len(z.Parents) == 0}) {
		fmt.Fprintf(w, "zone %s: %s %s: %s\n", z.Origin, f.Severity, f.Interval, f.Message)
		if f.Severity == forecast.Error {
			nerr++
		}
	}
	if nerr > 0 {
		return fmt.Errorf("zones[%d] (zone %s): the DNSSEC policy has %d error(s) for the zone's TTLs (RFC 7583; above)", i, z.Origin, nerr)
	}
	return nil
}
