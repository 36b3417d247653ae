package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/server"
)

// dnssecRuntime is the DNSSEC side of a running server, as serve wires it.
type dnssecRuntime interface {
	Signed(origin string) bool
	Start(ctx context.Context, c *config, zs *server.ZoneSet) error
	Keys() server.KeySource
	Signer() server.Signer
	RegisterAPI(mux *http.ServeMux)
	Close()
}

// setupDNSSEC builds the signing side from the configuration.
func setupDNSSEC(ctx context.Context, c *config, log *slog.Logger, reg prometheus.Registerer) (dnssecRuntime, error) {
	if c.DNSSEC.Enabled {
		return nil, fmt.Errorf("dnssec.enabled: signing is not wired in yet")
	}
	return unsigned{}, nil
}

// unsigned is the runtime of a server that signs nothing.
type unsigned struct{}

func (unsigned) Signed(string) bool                                    { return false }
func (unsigned) Start(context.Context, *config, *server.ZoneSet) error { return nil }
func (unsigned) Keys() server.KeySource                                { return nil }
func (unsigned) Signer() server.Signer                                 { return nil }
func (unsigned) RegisterAPI(*http.ServeMux)                            {}
func (unsigned) Close()                                                {}
