package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/cluster"
	"github.com/signetdns/signet/dsboot"
	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/ui"
	"github.com/signetdns/signet/zonewatch"
)

func newServeCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the configured zones over UDP and TCP",
		Args:  cobra.NoArgs,
	}
	zoneFlags := addServeFlags(v, cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := loadConfig(v, *zoneFlags)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		log, err := newLogger(v, stderr)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		return serve(ctx, c, log)
	}
	return cmd
}

// addServeFlags gives cmd the flags of `signet serve` (config check and dump take them too, so
// that they see what serve would) and binds them to their config keys when cmd runs: viper
// binds a key to one flag, and several commands have these.
func addServeFlags(v *viper.Viper, cmd *cobra.Command) *[]string {
	var zoneFlags []string
	f := cmd.Flags()
	f.StringSlice("listen", nil, "address to serve on, host:port (repeatable; [::1]:5300 for IPv6)")
	f.StringArrayVar(&zoneFlags, "zone", nil, "zone to serve, ORIGIN=FILE (repeatable)")
	f.Bool("dnssec", false, "sign every zone; create and activate a KSK and a ZSK where none exist")
	f.String("denial", "", "denial of existence: compact, blacklies, whitelies, nsec or nsec3")
	f.Bool("strict", false, "refuse to start when a zone fails to load, its file or its DNSSEC keys (default: serve the others, SERVFAIL for it)")
	f.StringSlice("etcd", nil, "etcd client URLs of the cluster this server is an instance of (comma-separated); with --instance")
	f.String("instance", "", "this instance's name in the cluster; with --etcd")
	f.Duration("sync-timeout", cluster.DefaultSyncTimeout, "how long the cluster's key leader waits for every instance to serve a new key ring (below every zone's propagation_delay)")
	cmd.PreRun = func(cmd *cobra.Command, args []string) {
		bind(v, cmd.Flags(), "listen", "listen")
		bind(v, cmd.Flags(), "dnssec.enabled", "dnssec")
		bind(v, cmd.Flags(), "dnssec.denial", "denial")
		bind(v, cmd.Flags(), "strict", "strict")
		bind(v, cmd.Flags(), "cluster.etcd.endpoints", "etcd")
		bind(v, cmd.Flags(), "cluster.name", "instance")
		bind(v, cmd.Flags(), "cluster.sync_timeout", "sync-timeout")
	}
	return &zoneFlags
}

// startAdmin starts the admin API (cfg gives what it serves) on its control socket and, unless
// admin.addr is "off", its TCP listener, whose bearer token is admin.token or else one
// generated into the state directory for the CLI to read. It returns nil when both are off.
func startAdmin(c *config, cfg admin.Config) (*admin.Server, error) {
	cfg.Socket, cfg.Hosts = socketPath(c.Admin.Socket, c.State), c.Admin.Hosts
	if a := c.Admin.Addr; a != "" && a != "off" {
		// Beyond loopback the operator chooses the token: a generated one would sit only
		// in the state directory of a machine the callers are not on.
		if c.Admin.Token == "" && !loopbackAddr(a) {
			return nil, fmt.Errorf("admin.token: required when admin.addr (%s) is not a loopback address", a)
		}
		tok := c.Admin.Token
		if tok == "" {
			var err error
			if tok, err = admin.LoadOrCreateToken(c.State); err != nil {
				return nil, err
			}
		}
		cfg.Addr, cfg.Token = a, tok
	}
	if cfg.Addr == "" && cfg.Socket == "" {
		return nil, nil
	}
	s, err := admin.New(cfg)
	if err != nil {
		return nil, err
	}
	go s.Serve()
	return s, nil
}

// serve runs the server until ctx ends (SIGTERM/SIGINT); SIGHUP reloads the zone files.
func serve(ctx context.Context, c *config, log *slog.Logger) error {
	stopMemory, err := startMemory(c, log)
	if err != nil {
		return err
	}
	defer stopMemory()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := server.NewMetrics(reg)

	dn, err := setupDNSSEC(ctx, c, log, reg)
	if err != nil {
		return err
	}
	defer dn.Close()

	zs := server.NewZoneSet(log, dn.Signed)
	zs.SetStrict(c.Strict)
	if err := zs.RegisterMetrics(reg); err != nil {
		return err
	}
	// The watch starts before the first load, so that a file changed while the zones load
	// is reloaded; it handles changes once the server runs.
	watch, err := watchZones(c, zs, log)
	if err != nil {
		return err
	}
	if watch != nil {
		defer watch.Close()
	}
	var files []server.ZoneFile
	for _, z := range c.Zones {
		if len(z.Primaries) > 0 {
			continue // a secondary zone: setupTransfers adds it
		}
		files = append(files, server.ZoneFile{Origin: z.Origin, Path: z.File})
	}
	if err := zs.AddAll(files); err != nil {
		return err
	}
	transfers, runTransfers, err := setupTransfers(c, zs, dn, log, reg)
	if err != nil {
		return err
	}
	if err := dn.Start(ctx, c, zs); err != nil {
		return err
	}
	signals, err := dsboot.NewPublisher(dsboot.Config{Zones: zs.Store(), Keys: dn.Keys(), Apply: zs.SetExtra, Logger: log})
	if err != nil {
		return err
	}
	if err := signals.RegisterMetrics(reg); err != nil {
		return err
	}
	// Published before the first query is answered; a zone whose signals cannot be added is
	// served without them (logged), as at any later change.
	signals.Sync()

	scfg := c.serverConfig()
	if scfg.Cookies, err = c.Cookies.jar(); err != nil {
		return err
	}
	scfg.Logger = log
	if transfers != nil {
		scfg.Transfers = transfers
	}
	h := server.NewHandler(zs, dn.Keys(), dn.Signer(), scfg, metrics)
	srv := server.New(h, scfg)
	if err := srv.Start(); err != nil {
		return err
	}

	// A reload starts again the zones whose keys failed to start, then reads every zone.
	reload := func() error { return errors.Join(dn.RetryZones(ctx, zs), zs.Reload()) }
	adm, err := startAdmin(c, admin.Config{Gatherer: reg, Reload: reload, Zones: zs.Status, Manager: dn.API(), Logger: log,
		Ready: readiness(zs, dn), UI: ui.Handler(admin.UIPath), Cluster: dn.Cluster()})
	if err != nil {
		srv.Shutdown(context.Background())
		return err
	}

	for _, a := range srv.UDPAddrs() {
		log.Info("listening", "udp", a.String())
	}
	for _, a := range srv.TCPAddrs() {
		log.Info("listening", "tcp", a.String())
	}
	if adm != nil && adm.Addr() != nil {
		log.Info("admin listening", "addr", "http://"+adm.Addr().String())
	}
	if adm != nil && adm.Socket() != "" {
		log.Info("admin listening", "socket", adm.Socket())
	}
	tctx, stopTransfers := context.WithCancel(context.Background())
	defer stopTransfers()
	runTransfers(tctx)
	go signals.Run(tctx)
	if watch != nil {
		go watch.Run(tctx)
	}
	// SIGHUP is caught before anyone is told the server is ready: its default action would
	// kill a process reloaded right after start.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// Scripts wait for this exact line (DESIGN: "The command line that scripts rely on").
	fmt.Fprintln(os.Stderr, "ready")
	if err := sdNotify("READY=1"); err != nil {
		log.Warn("could not tell the service manager that the server is ready", "err", err)
	}

	for {
		select {
		case <-hup:
			log.Info("SIGHUP: reloading zones")
			if err := reload(); err != nil {
				log.Error("reload finished with errors", "err", err)
			}
			if err := dn.ReloadCluster(c); err != nil {
				log.Error("reload of cluster.recipients", "err", err)
			}
			// The service manager waits for READY=1 after a reload it asked for.
			sdNotify("READY=1")
		case <-ctx.Done():
			log.Info("shutting down")
			sdNotify("STOPPING=1")
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if adm != nil {
				adm.Shutdown(sctx)
			}
			return srv.Shutdown(sctx)
		}
	}
}

// watchZones returns a watcher that reloads a zone file's zone when the file changes
// (reload.watch) once it is Run, or nil when there is nothing to watch. It records the files
// as they are, so it is made before they are first loaded.
func watchZones(c *config, zs *server.ZoneSet, log *slog.Logger) (*zonewatch.Watcher, error) {
	if !c.Reload.Watch {
		return nil, nil
	}
	var files []zonewatch.Zone
	for _, z := range c.Zones {
		if len(z.Primaries) == 0 {
			files = append(files, zonewatch.Zone{Origin: z.Origin, Path: z.File})
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	w, err := zonewatch.New(files, zs.ReloadZone, zonewatch.Options{Debounce: c.Reload.Debounce, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("reload.watch: %w", err)
	}
	return w, nil
}
