package main

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"time"

	"github.com/signetdns/signet/cookie"
	"github.com/signetdns/signet/internal/secretfile"
	"github.com/signetdns/signet/rrl"
)

// rrlConfig is the rrl: section: response rate limiting of UDP answers (package rrl).
type rrlConfig struct {
	// Mode is "auto" (the default: on when any listen address is not loopback), "on" or "off".
	Mode string `mapstructure:"mode"`
	// ResponsesPerSecond per client network and response kind (default 20).
	ResponsesPerSecond int `mapstructure:"responses_per_second"`
	// Slip sends every Slip-th limited answer truncated (default 2; 1: all; -1: none).
	Slip int `mapstructure:"slip"`
	// IPv4Prefix and IPv6Prefix group clients into networks (defaults 24 and 56).
	IPv4Prefix int `mapstructure:"ipv4_prefix"`
	IPv6Prefix int `mapstructure:"ipv6_prefix"`
}

func (r rrlConfig) validate() error {
	switch r.Mode {
	case "auto", "on", "off":
	default:
		return fmt.Errorf("rrl.mode: %q: want auto, on or off", r.Mode)
	}
	if r.ResponsesPerSecond <= 0 {
		return fmt.Errorf("rrl.responses_per_second: %d must be positive", r.ResponsesPerSecond)
	}
	if r.Slip == 0 || r.Slip < -1 {
		return fmt.Errorf("rrl.slip: %d: want a positive number, or -1 to drop every limited answer", r.Slip)
	}
	if r.IPv4Prefix < 1 || r.IPv4Prefix > 32 {
		return fmt.Errorf("rrl.ipv4_prefix: %d: want 1 to 32", r.IPv4Prefix)
	}
	if r.IPv6Prefix < 1 || r.IPv6Prefix > 128 {
		return fmt.Errorf("rrl.ipv6_prefix: %d: want 1 to 128", r.IPv6Prefix)
	}
	return nil
}

// limiter builds the limiter, or nil when rate limiting is off for these listen addresses: a
// server reachable on loopback only cannot be used to reflect traffic at anyone else.
func (r rrlConfig) limiter(listen []string) *rrl.Limiter {
	if r.Mode == "off" || (r.Mode == "auto" && loopbackOnly(listen)) {
		return nil
	}
	return rrl.New(rrl.Config{ResponsesPerSecond: r.ResponsesPerSecond, Slip: r.Slip,
		IPv4PrefixLen: r.IPv4Prefix, IPv6PrefixLen: r.IPv6Prefix})
}

// loopbackOnly reports whether every address is a loopback one.
func loopbackOnly(listen []string) bool {
	for _, a := range listen {
		ap, err := netip.ParseAddrPort(a)
		if err != nil || !ap.Addr().IsLoopback() {
			return false
		}
	}
	return true
}

// cookiesConfig is the cookies: section: DNS Cookies (RFC 7873, RFC 9018 server cookies).
type cookiesConfig struct {
	// Enabled answers COOKIE options with server cookies (default true).
	Enabled bool `mapstructure:"enabled"`
	// Rotate is how often the random server secret changes (default 24h, over 1h).
	Rotate time.Duration `mapstructure:"rotate"`
	// SecretFile holds a secret (32 hex digits, mode 0600) shared by the servers of an
	// anycast set, so that each verifies the others' cookies (RFC 9018); it does not rotate.
	SecretFile string `mapstructure:"secret_file"`
	// PreviousSecretFile holds the shared secret SecretFile replaced, still accepted.
	PreviousSecretFile string `mapstructure:"previous_secret_file"`
}

func (c cookiesConfig) validate() error {
	if c.Enabled && c.SecretFile == "" && c.Rotate <= time.Hour {
		return fmt.Errorf("cookies.rotate: %s must be longer than 1h, a cookie's lifetime", c.Rotate)
	}
	return nil
}

// jar makes the server's cookie jar, or nil when cookies are off.
func (c cookiesConfig) jar() (*cookie.Jar, error) {
	if !c.Enabled {
		return nil, nil
	}
	cfg := cookie.Config{Rotate: c.Rotate}
	if c.SecretFile != "" {
		var err error
		if cfg.Secret, err = readCookieSecret(c.SecretFile); err != nil {
			return nil, fmt.Errorf("cookies.secret_file: %w", err)
		}
		cfg.Rotate = -1
	}
	if c.PreviousSecretFile != "" {
		var err error
		if cfg.Previous, err = readCookieSecret(c.PreviousSecretFile); err != nil {
			return nil, fmt.Errorf("cookies.previous_secret_file: %w", err)
		}
	}
	j, err := cookie.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("cookies: %w", err)
	}
	return j, nil
}

// readCookieSecret reads a 128-bit secret written as 32 hex digits in a private file.
func readCookieSecret(path string) ([]byte, error) {
	s, err := secretfile.Read(path)
	if err != nil {
		return nil, err
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return nil, fmt.Errorf("%s: want 32 hex digits (16 octets; openssl rand -hex 16)", path)
	}
	return b, nil
}
