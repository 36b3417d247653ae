package server

import (
	"log/slog"
	"time"
)

// DefaultListen is the address served when none is configured: loopback only, so that a
// server started without thought answers no one on the network by surprise.
const DefaultListen = "127.0.0.1:53"

// Config holds the server's settings. The zero value of each field means its default.
type Config struct {
	// Listen lists host:port addresses; each gets a UDP and a TCP listener. Default
	// DefaultListen.
	Listen []string
	// UDPSize is the EDNS(0) payload size advertised and the cap applied to clients' sizes.
	// Default 1232 (DNS flag day 2020).
	UDPSize uint16
	// UDPReaders is the number of SO_REUSEPORT UDP sockets per listen address, each with its
	// own reader goroutine. Default GOMAXPROCS.
	UDPReaders int
	// UDPQueue bounds the UDP queries waiting for a worker (those not answered from the packet
	// cache); beyond it they are dropped. Default 1024.
	UDPQueue int
	// TCPIdleTimeout closes an idle TCP connection (RFC 7766 §6.2.3). Default 10 s.
	TCPIdleTimeout time.Duration
	// TCPReadTimeout bounds the wait for the first query on a new connection. Default 2 s.
	TCPReadTimeout time.Duration
	// MaxTCPConns caps concurrent TCP connections (RFC 7766 §6.2.2). Default 512.
	MaxTCPConns int
	// MaxTCPQueries caps the queries served on one TCP connection. Default 1000.
	MaxTCPQueries int
	// ChaosVersion and ChaosID answer CHAOS TXT version.bind. and id.server. (and
	// hostname.bind.) when set; empty means REFUSED, the default, so that nothing leaks.
	ChaosVersion string
	ChaosID      string
	// PacketCacheSize is the number of whole responses kept for repeated UDP questions
	// (a tenth more for answers about missing names). Default 100,000; negative disables.
	PacketCacheSize int
	// ShutdownTimeout bounds the wait for in-flight TCP queries on shutdown. Default 5 s.
	ShutdownTimeout time.Duration
	// Transfers serves NOTIFY and zone transfers; nil: NOTIFY is NOTIMP and AXFR/IXFR REFUSED.
	Transfers Transfers
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c *Config) withDefaults() Config {
	d := *c
	if len(d.Listen) == 0 {
		d.Listen = []string{DefaultListen}
	}
	if d.UDPSize == 0 {
		d.UDPSize = 1232
	}
	if d.UDPReaders <= 0 {
		d.UDPReaders = defaultReaders()
	}
	if d.UDPQueue <= 0 {
		d.UDPQueue = 1024
	}
	if d.TCPIdleTimeout <= 0 {
		d.TCPIdleTimeout = 10 * time.Second
	}
	if d.TCPReadTimeout <= 0 {
		d.TCPReadTimeout = 2 * time.Second
	}
	if d.MaxTCPConns <= 0 {
		d.MaxTCPConns = 512
	}
	if d.MaxTCPQueries == 0 {
		d.MaxTCPQueries = 1000
	}
	if d.ShutdownTimeout <= 0 {
		d.ShutdownTimeout = 5 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}
