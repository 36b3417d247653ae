package main

import (
	"fmt"

	"github.com/spf13/viper"

	"github.com/signetdns/signet/admin/client"
)

// adminClient is the client of the running server's admin API (--admin, SIGNET_ADMIN_ADDR,
// with --admin-token or SIGNET_ADMIN_TOKEN).
func adminClient(v *viper.Viper) (*client.Client, error) {
	if err := readConfig(v); err != nil {
		return nil, err
	}
	addr := v.GetString("admin.addr")
	if addr == "" || addr == "off" {
		return nil, fmt.Errorf("the admin API is off (--admin): cannot reach the server")
	}
	return client.New(addr, v.GetString("admin.token")), nil
}
