package server

import (
	"log/slog"
	"runtime"
	"time"

	"github.com/signetdns/signet/cookie"
	"github.com/signetdns/signet/rrl"
)

// Config holds the server's settings. The zero value of each field means its default.
type Config struct {
	// Listen lists host:port addresses; each gets a UDP and a TCP listener. Default
	// DefaultListen (loopback only).
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
	// MaxTCPConnsPerClient caps the concurrent TCP connections from one IP address; more are
	// closed at once. Default 32.
	MaxTCPConnsPerClient int
	// MaxSigning bounds the responses being signed at once, over UDP and TCP together; more
	// wait. Default twice GOMAXPROCS: signing is CPU work, and more in flight only queues.
	MaxSigning int
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
	// QueryLog logs one query in every QueryLog (1: every query) to Logger at level info,
	// with client, transport, name, type, DO, rcode and size; 0, the default, logs none.
	// Sampling by count keeps the cost bounded on a busy server.
	QueryLog int
	// RRL limits the rate of UDP responses per client network and response kind; nil, the
	// default, limits nothing. TCP is never limited.
	RRL *rrl.Limiter
	// Cookies makes and checks DNS cookies (RFC 7873, RFC 9018); nil ignores COOKIE options
	// as unknown ones. A valid server cookie exempts a query from RRL.
	Cookies *cookie.Jar
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Defaults for Config's zero fields, exported so that the command line's configuration shows
// and validates the same values the server uses.
const (
	// DefaultListen binds loopback only: a server nobody configured must not answer the
	// world.
	DefaultListen          = "127.0.0.1:53"
	DefaultUDPSize         = 1232
	DefaultUDPQueue        = 1024
	DefaultTCPIdleTimeout  = 10 * time.Second
	DefaultTCPReadTimeout  = 2 * time.Second
	DefaultMaxTCPConns     = 512
	DefaultMaxTCPQueries   = 1000
	DefaultMaxTCPPerClient = 32
	DefaultPacketCacheSize = 100_000
	DefaultShutdownTimeout = 5 * time.Second
)

func (c *Config) withDefaults() Config {
	d := *c
	if len(d.Listen) == 0 {
		d.Listen = []string{DefaultListen}
	}
	if d.UDPSize == 0 {
		d.UDPSize = DefaultUDPSize
	}
	if d.UDPReaders <= 0 {
		d.UDPReaders = defaultReaders()
	}
	if d.UDPQueue <= 0 {
		d.UDPQueue = DefaultUDPQueue
	}
	if d.TCPIdleTimeout <= 0 {
		d.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if d.TCPReadTimeout <= 0 {
		d.TCPReadTimeout = DefaultTCPReadTimeout
	}
	if d.MaxTCPConns <= 0 {
		d.MaxTCPConns = DefaultMaxTCPConns
	}
	if d.MaxTCPConnsPerClient <= 0 {
		d.MaxTCPConnsPerClient = DefaultMaxTCPPerClient
	}
	if d.MaxSigning <= 0 {
		d.MaxSigning = 2 * runtime.GOMAXPROCS(0)
	}
	if d.MaxTCPQueries == 0 {
		d.MaxTCPQueries = DefaultMaxTCPQueries
	}
	if d.ShutdownTimeout <= 0 {
		d.ShutdownTimeout = DefaultShutdownTimeout
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return d
}
