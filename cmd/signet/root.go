package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/signetdns/signet/admin"
)

// exitError carries a process exit code (zone check exits 1 on problems, 2 on usage).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

// newViper returns the configuration registry every command shares: SIGNET_* variables
// (dnssec.cache_size is SIGNET_DNSSEC_CACHE_SIZE).
func newViper() *viper.Viper {
	v := viper.New()
	v.SetEnvPrefix("SIGNET")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	return v
}

// newViperFor returns a registry that reads the configuration file path ("" none) and the
// SIGNET_* variables, without flags: what a reload sees.
func newViperFor(path string) *viper.Viper {
	v := newViper()
	if path != "" {
		v.Set("config", path)
	}
	return v
}

func newRootCmd() *cobra.Command {
	v := newViper()
	root := &cobra.Command{
		Use:           "signet",
		Short:         "Authoritative DNS nameserver with online DNSSEC signing",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "configuration file (YAML)")
	root.PersistentFlags().String("state", "", "directory for keys and DNSSEC state (created 0700), where the server keeps its control socket and admin token for the CLI (default ./state)")
	root.PersistentFlags().String("admin", admin.DefaultAddr, "admin HTTP API address (host:port, or \"off\"); the CLI uses the control socket in --state unless this is given")
	root.PersistentFlags().String("admin-token", "", "bearer token for the admin API's TCP listener (or SIGNET_ADMIN_TOKEN); default: generated into the state directory")
	root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().String("log-format", "text", "log format: text or json")
	bind(v, root.PersistentFlags(), "config", "config")
	bind(v, root.PersistentFlags(), "state", "state")
	bind(v, root.PersistentFlags(), "admin.addr", "admin")
	bind(v, root.PersistentFlags(), "admin.token", "admin-token")
	bind(v, root.PersistentFlags(), "log.level", "log-level")
	bind(v, root.PersistentFlags(), "log.format", "log-format")

	zone := newZoneCmd()
	zone.AddCommand(newZoneStatusCmd(v))
	root.AddCommand(newServeCmd(v), zone, newReloadCmd(v), newConfigCmd(v), newVersionCmd(), newClusterCmd(v))
	for _, c := range extraCommands(v) {
		root.AddCommand(c)
	}
	return root
}

// extraCommands is where the DNSSEC commands hook in.
var extraCommands = func(v *viper.Viper) []*cobra.Command { return nil }

// bind ties a flag to a config key. Precedence, highest first: a flag that is set, the
// SIGNET_* environment variable, the config file, the default.
func bind(v *viper.Viper, fs *pflag.FlagSet, key, flag string) {
	if err := v.BindPFlag(key, fs.Lookup(flag)); err != nil {
		panic(fmt.Sprintf("bind flag %s: %v", flag, err))
	}
}

// readConfig reads the --config file, if any, into v.
func readConfig(v *viper.Viper) error {
	path := v.GetString("config")
	if path == "" {
		return nil
	}
	v.SetConfigFile(path)
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return nil
}

func newLogger(v *viper.Viper, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(v.GetString("log.level"))); err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f := v.GetString("log.format"); f {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log.format: %q is neither text nor json", f)
	}
}

var stderr io.Writer = os.Stderr
