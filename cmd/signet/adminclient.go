package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/admin/client"
)

// adminClient is the client of the running server that c's settings name. Out of the box that
// is the control socket in the state directory (--state, or state: in --config; ./state by
// default), where the server of that state directory listens. --admin ADDR (or
// SIGNET_ADMIN_ADDR) picks the TCP listener instead, with --admin-token (SIGNET_ADMIN_TOKEN,
// admin.token) or else the token the server generated in the state directory. With no socket
// in the state directory, the configured TCP listener is used the same way.
func adminClient(c *cobra.Command, v *viper.Viper) (*client.Client, error) {
	setDefaults(v)
	bindEnv(v)
	if err := readConfig(v); err != nil {
		return nil, err
	}
	state := v.GetString("state")
	// noSocket prefixes the errors of the fallback to TCP, so that they say what was missed.
	noSocket := ""
	if !c.Flags().Changed("admin") && os.Getenv("SIGNET_ADMIN_ADDR") == "" {
		if sock := socketPath(v.GetString("admin.socket"), state); sock != "" {
			if fi, err := os.Stat(sock); err == nil && fi.Mode()&fs.ModeSocket != 0 {
				return client.NewUnix(sock), nil
			}
			noSocket = fmt.Sprintf("no control socket %s (is signet serve running with --state %s?), and ", sock, state)
		}
	}
	addr := v.GetString("admin.addr")
	if addr == "" || addr == "off" {
		return nil, fmt.Errorf("%sthe admin TCP listener is off (--admin): cannot reach the server", noSocket)
	}
	tok := v.GetString("admin.token")
	if tok == "" {
		t, err := admin.ReadToken(filepath.Join(state, admin.TokenFile))
		switch {
		case err == nil:
			tok = t
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%sadmin API %s: no token: give --admin-token, or --state with the server's state directory (it keeps %s there)", noSocket, addr, admin.TokenFile)
		default:
			return nil, err
		}
	}
	return client.New(addr, tok), nil
}

// socketPath is the control socket's path: admin.socket when set ("off": none), else
// admin.sock in the state directory.
func socketPath(configured, state string) string {
	switch configured {
	case "off":
		return ""
	case "":
		return filepath.Join(state, admin.SocketFile)
	}
	return configured
}
