package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/signetdns/signet/cluster"
	"github.com/signetdns/signet/keystore"
	etcdkeys "github.com/signetdns/signet/keystore/etcd"
	"github.com/signetdns/signet/keystore/file"
	filestate "github.com/signetdns/signet/statestore/file"
)

// joinTimeout bounds the first request to etcd (is it there, does an instance lead).
const joinTimeout = 10 * time.Second

func newClusterJoinCmd(v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "join",
		Short: "Import a stopped single server's key state into a new cluster's etcd, once, so that it leads with its keys (the parent's DS stays valid)",
		Long: `Run on a stopped single server, with the configuration it will serve with (its cluster:
section, or --etcd and --instance): each zone's key state, pre-made KSK signatures and ZSKs
go to etcd, the ZSKs encrypted to cluster.recipients; the KSKs stay in the state directory's
keystore. Each zone is one etcd transaction; a join that stopped half-way completes when run
again. It refuses while an instance leads the cluster, and never overwrites a zone etcd holds.`,
		Args: cobra.NoArgs,
	}
	zoneFlags := addServeFlags(v, cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := loadConfig(v, *zoneFlags)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		return clusterJoin(cmd.Context(), c, cmd.OutOrStdout())
	}
	return cmd
}

// clusterJoin imports the state directory of c into c's cluster and prints what it did with
// each zone and what to do next.
func clusterJoin(ctx context.Context, c *config, w io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if !c.Cluster.enabled() {
		return &exitError{code: 2, err: errors.New("cluster: no cluster configured (cluster.name and cluster.etcd.endpoints, or --instance and --etcd)")}
	}
	if err := notServing(c); err != nil {
		return err
	}
	keysDir, zonesDir := filepath.Join(c.State, "keys"), filepath.Join(c.State, "zones")
	for _, d := range []string{keysDir, zonesDir} {
		if _, err := os.Stat(d); err != nil {
			return fmt.Errorf("state %s: %w (no single server's keys to import)", c.State, err)
		}
	}
	pass, err := joinPassphrase(c)
	if err != nil {
		return err
	}
	soft, err := file.Open(file.Options{Dir: keysDir, Passphrase: pass})
	clear(pass)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer soft.Close()
	local, err := filestate.Open(zonesDir)
	if err != nil {
		return err
	}
	cr, err := openCluster(c)
	if err != nil {
		return err
	}
	defer cr.close()
	cctx, cancel := context.WithTimeout(ctx, joinTimeout)
	_, err = cr.state.Revision(cctx)
	cancel()
	if err != nil {
		return fmt.Errorf("cluster.etcd.endpoints %s: %w", strings.Join(c.Cluster.Etcd.Endpoints, ","), err)
	}
	var zones []string
	for _, z := range c.Zones {
		zones = append(zones, z.Origin)
	}
	joined, err := cluster.Join(ctx, cluster.JoinConfig{Client: cr.cli, Prefix: cr.prefix, Zones: zones,
		Local: local, Keys: soft, Shared: cr.state, SharedKeys: cr.keys, SharedBackend: etcdkeys.Backend})
	printJoined(w, joined)
	if err != nil {
		return err
	}
	ksks, err := soft.List(ctx, "")
	var ue *keystore.UnreadableError
	if errors.As(err, &ue) {
		// The join is done; the damaged keys are the operator's to repair, and copy too.
		for _, u := range ue.Entries {
			fmt.Fprintf(w, "warning: %v\n", u.Err)
		}
	} else if err != nil {
		return err
	}
	var files []string
	for _, m := range ksks {
		if m.Role == keystore.KSK {
			files = append(files, m.ID+".json", m.ID+".key.age")
		}
	}
	fmt.Fprintf(w, "\nNext: start this server with the same configuration; it leads with the keys it had.\n")
	if len(files) > 0 {
		fmt.Fprintf(w, "The KSKs stay in %s (kek.age and %s): copy that directory, with the same\nkeystore passphrase, to every other instance that may lead, before its first start.\n",
			keysDir, strings.Join(files, ", "))
	}
	return nil
}

func printJoined(w io.Writer, joined []cluster.Joined) {
	if len(joined) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ZONE\tOUTCOME\tZSKS")
	for _, j := range joined {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", j.Zone, j.Outcome, j.ZSKs)
	}
	tw.Flush()
}

// notServing fails when a server answers on the state directory's control socket: the
// import reads a state that a running server could change under it.
func notServing(c *config) error {
	sock := socketPath(c.Admin.Socket, c.State)
	if sock == "" {
		return nil
	}
	conn, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return nil
	}
	conn.Close()
	return fmt.Errorf("signet serve runs with the state directory %s (its control socket %s answers): stop it before the join", c.State, sock)
}

// joinPassphrase is the keystore passphrase the server used: passphrase_file, passphrase_env,
// or the quick start's file in the state directory; unlike serve, it never makes one.
func joinPassphrase(c *config) ([]byte, error) {
	if c.Keystore.PassphraseFile != "" || c.Keystore.PassphraseEnv != "" {
		p, _, err := passphrase(c, nil)
		return p, err
	}
	path := filepath.Join(c.State, "keystore.passphrase")
	p, err := file.PassphraseFromFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("keystore: no passphrase (keystore.passphrase_file, keystore.passphrase_env, or %s)", path)
	}
	return p, err
}
