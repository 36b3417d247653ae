package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/cluster"
	"github.com/signetdns/signet/internal/secretfile"
	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore"
	etcdkeys "github.com/signetdns/signet/keystore/etcd"
	"github.com/signetdns/signet/server"
	etcdstate "github.com/signetdns/signet/statestore/etcd"
)

// clusterConfig is the cluster: section. Without a name and etcd endpoints, Signet is a
// single server.
type clusterConfig struct {
	// Name is this instance's name in the cluster (--instance), unique among its members.
	Name string `mapstructure:"name"`
	// ID names the cluster: its etcd keys are under /signet/<id>/ (default "signet").
	ID   string `mapstructure:"id"`
	Etcd struct {
		// Endpoints are the etcd client URLs (--etcd).
		Endpoints []string `mapstructure:"endpoints"`
		Username  string   `mapstructure:"username"`
		Password  string   `mapstructure:"password" secret:"true"`
		TLS       struct {
			// CA, Cert and Key are PEM files: the CA that signed etcd's certificate, and this
			// instance's client certificate and key (both or neither).
			CA   string `mapstructure:"ca"`
			Cert string `mapstructure:"cert"`
			Key  string `mapstructure:"key"`
		} `mapstructure:"tls"`
	} `mapstructure:"etcd"`
	// Recipients are the age X25519 recipients (age1...) the shared ZSKs are encrypted to:
	// every member's, and an offline backup's if kept.
	Recipients []string `mapstructure:"recipients"`
	// IdentityFile is this instance's age identity (AGE-SECRET-KEY-1...), a 0600 file.
	IdentityFile string `mapstructure:"identity_file"`
	// LeaseTTL is the key leader's lease: a leader that dies is replaced within it.
	LeaseTTL time.Duration `mapstructure:"lease_ttl"`
	// SyncTimeout bounds the leader's wait for every live instance to serve a ring change
	// (the next rollover interval counts from then), and how long a follower may serve an
	// older ring than etcd holds before it stops answering for the zone.
	SyncTimeout time.Duration `mapstructure:"sync_timeout"`
	// Advertise is the DNS address (host:port) the other instances ask this one at, when
	// one of them is cut off from etcd and compares DNSKEY RRsets; default the first listen
	// address that names a host.
	Advertise string `mapstructure:"advertise"`
}

// advertised returns the DNS address this instance publishes for its peers: Advertise, or
// the first listen address with a specific host ("" when every one is a wildcard).
func (c *clusterConfig) advertised(listen []string) string {
	if c.Advertise != "" {
		return c.Advertise
	}
	for _, a := range listen {
		host, _, err := net.SplitHostPort(a)
		if ip, perr := netip.ParseAddr(host); err == nil && perr == nil && !ip.IsUnspecified() {
			return a
		}
	}
	return ""
}

// enabled reports whether this server is a cluster member.
func (c *clusterConfig) enabled() bool { return c.Name != "" || len(c.Etcd.Endpoints) > 0 }

func (c *clusterConfig) prefix() string { return "/signet/" + c.ID + "/" }

func (c *clusterConfig) validate() error {
	if !c.enabled() {
		return nil
	}
	c.Etcd.Endpoints = splitList(c.Etcd.Endpoints)
	switch {
	case c.Name == "":
		return errors.New("cluster.name: required with cluster.etcd.endpoints (--instance NAME)")
	case len(c.Etcd.Endpoints) == 0:
		return errors.New("cluster.etcd.endpoints: required with cluster.name (--etcd URL[,URL...])")
	case strings.ContainsAny(c.Name, "/ ") || strings.ContainsAny(c.ID, "/ "):
		return errors.New("cluster.name, cluster.id: no slash or space")
	case len(c.Recipients) == 0 || c.IdentityFile == "":
		return errors.New("cluster.recipients and cluster.identity_file: required (the shared ZSKs are encrypted to the members' age keys)")
	case c.LeaseTTL < time.Second:
		return fmt.Errorf("cluster.lease_ttl: %s is too short (at least 1s)", c.LeaseTTL)
	case c.SyncTimeout < 100*time.Millisecond:
		return fmt.Errorf("cluster.sync_timeout: %s is too short (at least 100ms)", c.SyncTimeout)
	case c.Advertise != "" && !hostPort(c.Advertise):
		return fmt.Errorf("cluster.advertise: %q: want host:port", c.Advertise)
	case (c.Etcd.TLS.Cert == "") != (c.Etcd.TLS.Key == ""):
		return errors.New("cluster.etcd.tls: cert and key go together")
	}
	return nil
}

// tlsConfig returns the etcd client's TLS configuration, nil for plain connections.
func (c *clusterConfig) tlsConfig() (*tls.Config, error) {
	t := c.Etcd.TLS
	if t.CA == "" && t.Cert == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("cluster.etcd.tls.ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cluster.etcd.tls.ca: %s holds no PEM certificate", t.CA)
		}
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("cluster.etcd.tls: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// recipients parses cluster.recipients.
func (c *clusterConfig) recipients() ([]age.Recipient, error) {
	var rcpts []age.Recipient
	for _, r := range c.Recipients {
		x, err := age.ParseX25519Recipient(strings.TrimSpace(r))
		if err != nil {
			return nil, fmt.Errorf("cluster.recipients: %q: %w", r, err)
		}
		rcpts = append(rcpts, x)
	}
	if len(rcpts) == 0 {
		return nil, errors.New("cluster.recipients: none")
	}
	return rcpts, nil
}

// ageKeys parses the recipients and reads this instance's identity file, which must be 0600.
func (c *clusterConfig) ageKeys() ([]age.Recipient, []age.Identity, error) {
	rcpts, err := c.recipients()
	if err != nil {
		return nil, nil, err
	}
	raw, err := secretfile.ReadRaw(c.IdentityFile)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster.identity_file: %w", err)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(raw))
	clear(raw) // the parsed identities are all that is kept
	if err != nil {
		// The parse error may quote the file: do not pass it on.
		return nil, nil, fmt.Errorf("cluster.identity_file: %s is not an age identity file", c.IdentityFile)
	}
	return rcpts, ids, nil
}

// clusterRuntime is a cluster member's wiring: the etcd client, the shared stores and the
// node that campaigns and follows.
type clusterRuntime struct {
	cli    *clientv3.Client
	state  *etcdstate.Store
	keys   *etcdkeys.Store
	node   *cluster.Node
	prefix string
	done   chan struct{} // closed when the node's Run returns
	log    *slog.Logger
}

// openCluster connects to etcd (without waiting: a start during an etcd outage serves from
// the local copies) and opens the shared stores.
func openCluster(c *config) (*clusterRuntime, error) {
	rcpts, ids, err := c.Cluster.ageKeys()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := c.Cluster.tlsConfig()
	if err != nil {
		return nil, err
	}
	cli, err := cluster.NewClient(cluster.ClientConfig{Endpoints: c.Cluster.Etcd.Endpoints,
		Username: c.Cluster.Etcd.Username, Password: c.Cluster.Etcd.Password, TLS: tlsCfg})
	if err != nil {
		return nil, err
	}
	prefix := c.Cluster.prefix()
	keys, err := etcdkeys.Open(etcdkeys.Options{Client: cli, Prefix: prefix, Recipients: rcpts, Identities: ids,
		CacheDir: filepath.Join(c.State, "cluster-keys")})
	if err != nil {
		cli.Close()
		return nil, err
	}
	return &clusterRuntime{cli: cli, state: etcdstate.New(cli, prefix), keys: keys, prefix: prefix}, nil
}

// join makes the node of mgr (which must have no zone yet); serials reports the zones' serials.
func (r *clusterRuntime) join(c *config, mgr *keymgr.Manager, serials func() map[string]uint32, reg prometheus.Registerer, log *slog.Logger) error {
	r.log = log
	n, err := cluster.New(cluster.Config{Name: c.Cluster.Name, Client: r.cli, Prefix: r.prefix, Manager: mgr,
		Shared: r.state, Guarded: []cluster.Guarded{r.state, r.keys}, Serials: serials, LeaseTTL: c.Cluster.LeaseTTL,
		SyncTimeout: c.Cluster.SyncTimeout, Addr: c.Cluster.advertised(c.Listen), Logger: log, OnLead: r.reencrypt, KeyChanges: r.keys.Changes})
	if err != nil {
		return err
	}
	r.node = n
	if reg != nil {
		return n.Register(reg)
	}
	return nil
}

// reencrypt has the shared keystore encrypt every ZSK whose recipients differ from
// cluster.recipients again (the leader does, when it is elected and when the recipients are
// reloaded): a member added after the keys were made can read them, a member removed cannot
// read what etcd holds from now on.
// A pass that fails (etcd did not answer, a key this instance cannot decrypt) is tried again,
// spaced up to reencryptRetryMax, while ctx (the leadership) lasts.
func (r *clusterRuntime) reencrypt(ctx context.Context) {
	for wait := time.Second; ; wait = min(2*wait, reencryptRetryMax) {
		n, err := r.keys.Reencrypt(ctx)
		if n > 0 {
			r.log.Info("shared ZSKs encrypted again to cluster.recipients", "keys", n)
		}
		if err == nil || ctx.Err() != nil || errors.Is(err, etcdkeys.ErrNotLeader) || errors.Is(err, keystore.ErrClosed) {
			return
		}
		r.log.Error("encrypt the shared ZSKs again to cluster.recipients", "err", err, "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
	}
}

// reencryptRetryMax bounds the spacing of the re-encryption's retries.
const reencryptRetryMax = time.Minute

// reloadRecipients makes rcpts the recipients of the keys made from now on and, on the
// leader, encrypts the existing ones again to them.
func (r *clusterRuntime) reloadRecipients(rcpts []age.Recipient) error {
	if err := r.keys.SetRecipients(rcpts); err != nil {
		return err
	}
	if r.node != nil && r.node.Leading() {
		// Bounded: a reload's retries end; the election's next win tries again.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		go func() { defer cancel(); r.reencrypt(ctx) }()
	}
	return nil
}

// status reads the cluster's status (the admin API's GET /v1/cluster).
func (r *clusterRuntime) status(ctx context.Context) (any, error) {
	// Within the CLI's patience: an etcd that does not answer in time is reported as down.
	ctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	st, err := cluster.ReadStatus(ctx, r.cli, r.prefix)
	if err != nil {
		return r.node.LocalStatus(err), nil
	}
	return st, nil
}

// close waits (a little) for the node to stop, so that a leader resigns (revokes its lease)
// and another takes over at once rather than after the lease, then closes the client.
func (r *clusterRuntime) close() {
	if r.done != nil {
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
		}
	}
	r.keys.Close()
	r.cli.Close()
}

// zoneSerials returns the serial each zone of zs serves.
func zoneSerials(c *config, zs *server.ZoneSet) func() map[string]uint32 {
	return func() map[string]uint32 {
		out := map[string]uint32{}
		for _, z := range c.Zones {
			if zone := zs.Store().Get(z.Origin); zone != nil {
				out[z.Origin] = zone.Serial()
			}
		}
		return out
	}
}

func newClusterCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "The Signet cluster this server is a member of"}
	cmd.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "Show the key leader, the instances with the state revision and zone serials each serves, etcd's health, and any problem (exit 1 when there is one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := adminClient(cmd, v)
			if err != nil {
				return err
			}
			var st cluster.Status
			if err := cl.Do(cmd.Context(), "GET", admin.ClusterPath, nil, &st); err != nil {
				return err
			}
			printCluster(cmd.OutOrStdout(), &st)
			if len(st.Problems) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d problem(s)", len(st.Problems))}
			}
			return nil
		},
	})
	cmd.AddCommand(newClusterJoinCmd(v))
	return cmd
}

// printCluster prints the status as tables: instances, etcd members, problems.
func printCluster(w io.Writer, st *cluster.Status) {
	leader := st.Leader
	if leader == "" {
		leader = "(none)"
	}
	fmt.Fprintf(w, "key leader: %s\n\n", leader)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tROLE\tZONE\tSTATE REV\tETCD REV\tSERIAL\tANSWERS\tRING SINCE\tUPDATED")
	for _, in := range st.Instances {
		role := "follower"
		if in.Leader {
			role = "leader"
		}
		for _, zone := range slices.Sorted(maps.Keys(in.Zones)) {
			z := in.Zones[zone]
			answers := "yes"
			if z.Stale != "" {
				answers = "NO (stale)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", in.Name, role, zone, z.StateRevision, st.Zones[zone], z.Serial,
				answers, z.Since.Format(time.RFC3339), in.Updated.Format(time.RFC3339))
		}
	}
	tw.Flush()
	printSyncs(w, st)
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ETCD ENDPOINT\tHEALTHY\tRAFT LEADER\tREVISION\tERROR")
	for _, m := range st.Members {
		fmt.Fprintf(tw, "%s\t%v\t%v\t%d\t%s\n", m.Endpoint, m.Healthy, m.Leader, m.Revision, m.Error)
	}
	tw.Flush()
	for _, p := range st.Problems {
		fmt.Fprintln(w, "problem:", p)
	}
}

// printSyncs lists the leader's last ring changes per zone: when it served each, when the
// last live instance did (the next interval counts from then), and who lagged.
func printSyncs(w io.Writer, st *cluster.Status) {
	for _, in := range st.Instances {
		if !in.Leader || len(in.Syncs) == 0 {
			continue
		}
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RING CHANGE\tSTATE/PREMADE REV\tLEADER SERVED\tALL SERVED\tLAG\tLAGGARDS (TIMED OUT)")
		for _, zone := range slices.Sorted(maps.Keys(in.Syncs)) {
			recs := in.Syncs[zone]
			for _, r := range recs[max(0, len(recs)-3):] {
				fmt.Fprintf(tw, "%s\t%d/%d\t%s\t%s\t%s\t%s\n", zone, r.Revisions.State, r.Revisions.Premade, r.Committed.UTC().Format(time.RFC3339),
					r.Synced.UTC().Format(time.RFC3339), r.Synced.Sub(r.Committed).Round(time.Millisecond), strings.Join(r.Laggards, ","))
			}
		}
		tw.Flush()
	}
}

// hostPort reports whether a is host:port with a port number.
func hostPort(a string) bool {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return false
	}
	_, err = strconv.ParseUint(port, 10, 16)
	return err == nil
}
