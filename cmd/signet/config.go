package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/signetdns/signet/server"
)

// zoneConfig is one entry of the "zones" list.
type zoneConfig struct {
	Origin string `mapstructure:"origin"`
	// File is the zone's master file; for a secondary zone (Primaries set) it is where the
	// transferred copy is kept (default: under the state directory).
	File string `mapstructure:"file"`
	// Primaries makes the zone a signing secondary: AXFR/IXFR from these host:port addresses,
	// NOTIFY accepted from them.
	Primaries []string `mapstructure:"primaries"`
	// TSIG names the key of tsig_keys that signs this zone's transfers and NOTIFY messages.
	TSIG string `mapstructure:"tsig"`
	// Denial overrides dnssec.denial for this zone: compact, blacklies or whitelies.
	Denial string `mapstructure:"denial"`
	// Parents are the parent zone's name servers (host:port), asked whether the parent still
	// publishes a DS before signing is disabled, and during KSK rollovers.
	Parents []string `mapstructure:"parents"`
	// KSKRollover and ZSKLifetime override dnssec.ksk_rollover and dnssec.zsk_lifetime.
	KSKRollover string `mapstructure:"ksk_rollover"`
	ZSKLifetime string `mapstructure:"zsk_lifetime"`
}

// config is the whole configuration, decoded from the YAML file, SIGNET_* variables and flags.
type config struct {
	Listen  []string     `mapstructure:"listen"`
	Zones   []zoneConfig `mapstructure:"zones"`
	State   string       `mapstructure:"state"`
	UDPSize uint16       `mapstructure:"udp_size"`
	// PacketCache is the number of whole responses kept for repeated questions.
	PacketCache int `mapstructure:"packet_cache_size"`
	TCP         struct {
		IdleTimeout time.Duration `mapstructure:"idle_timeout"`
		MaxConns    int           `mapstructure:"max_conns"`
		MaxQueries  int           `mapstructure:"max_queries"`
	} `mapstructure:"tcp"`
	Chaos struct {
		Version string `mapstructure:"version"`
		ID      string `mapstructure:"id"`
	} `mapstructure:"chaos"`
	Admin struct {
		Addr  string `mapstructure:"addr"`
		Token string `mapstructure:"token"`
	} `mapstructure:"admin"`
	// TSIGKeys are the TSIG keys (RFC 8945) zones name in zones[].tsig.
	TSIGKeys []tsigKeyConfig `mapstructure:"tsig_keys"`
	DNSSEC   dnssecConfig    `mapstructure:"dnssec"`
	Keystore keystoreConfig  `mapstructure:"keystore"`
}

// tsigKeyConfig is one entry of tsig_keys. The secret is never in the config: secret_file
// holds it, base64, in a file readable by its owner only.
type tsigKeyConfig struct {
	Name       string `mapstructure:"name"`
	Algorithm  string `mapstructure:"algorithm"`
	SecretFile string `mapstructure:"secret_file"`
}

// keystoreConfig says where private keys live.
type keystoreConfig struct {
	// PassphraseFile or PassphraseEnv give the software keystore's passphrase (never the
	// config itself).
	PassphraseFile string `mapstructure:"passphrase_file"`
	PassphraseEnv  string `mapstructure:"passphrase_env"`
	// WorkFactor is the scrypt cost (log2 N) of new key files; default 18.
	WorkFactor int `mapstructure:"work_factor"`
	TPM        struct {
		// Device is /dev/tpmrm0, unix:/path/to/swtpm.sock or tcp:host:port; empty: no TPM,
		// KSKs live in the software keystore.
		Device string `mapstructure:"device"`
	} `mapstructure:"tpm"`
}

// dnssecConfig holds the signing settings; see the README's configuration reference.
type dnssecConfig struct {
	// Enabled is the --dnssec quick start: every zone signed, keys created where none exist.
	Enabled   bool          `mapstructure:"enabled"`
	Denial    string        `mapstructure:"denial"`
	Validity  time.Duration `mapstructure:"validity"`
	Refresh   time.Duration `mapstructure:"refresh"`
	CacheSize int           `mapstructure:"cache_size"`
	DNSKEYTTL uint32        `mapstructure:"dnskey_ttl"`
	Algorithm string        `mapstructure:"algorithm"`
	CDS       bool          `mapstructure:"cds"`
	// ZSKLifetime is the ZSK rotation period: a duration (default 720h), "route53" (a random
	// 7-30 days drawn once per zone), or a negative duration for never.
	ZSKLifetime string `mapstructure:"zsk_lifetime"`
	// KSKRollover is "manual" (Route 53's procedure, the default) or "automatic" (double-KSK
	// with CDS/CDNSKEY and parent DS checks every KSKLifetime).
	KSKRollover string        `mapstructure:"ksk_rollover"`
	KSKLifetime time.Duration `mapstructure:"ksk_lifetime"`
	// PropagationDelay is the margin rollovers add to TTLs (default 5 min).
	PropagationDelay  time.Duration `mapstructure:"propagation_delay"`
	ParentDSTTL       time.Duration `mapstructure:"parent_ds_ttl"`
	ParentPropagation time.Duration `mapstructure:"parent_propagation"`
	DSCheckInterval   time.Duration `mapstructure:"ds_check_interval"`
	DSWaitLimit       time.Duration `mapstructure:"ds_wait_limit"`
	// KSKCheckInterval is how often every active KSK is checked (default 1m): a KSK that
	// cannot sign turns ACTION_NEEDED then, while pre-made signatures are served.
	KSKCheckInterval time.Duration `mapstructure:"ksk_check_interval"`
	// KSKRetryMin is the first retry interval of a failing KSK (default 1m, doubling to 15m).
	KSKRetryMin time.Duration `mapstructure:"ksk_retry_min"`
}

func setDefaults(v *viper.Viper) {
	v.SetDefault("listen", []string{server.DefaultListen})
	v.SetDefault("state", "./state")
	v.SetDefault("udp_size", 1232)
	v.SetDefault("packet_cache_size", 100000)
	v.SetDefault("tcp.idle_timeout", 10*time.Second)
	v.SetDefault("tcp.max_conns", 512)
	v.SetDefault("tcp.max_queries", 1000)
	v.SetDefault("dnssec.denial", "compact")
	v.SetDefault("dnssec.validity", 7*24*time.Hour)
	v.SetDefault("dnssec.refresh", 48*time.Hour)
	v.SetDefault("dnssec.cache_size", 1000000)
	v.SetDefault("dnssec.dnskey_ttl", 3600)
	v.SetDefault("dnssec.algorithm", "ECDSAP256SHA256")
	v.SetDefault("dnssec.zsk_lifetime", "720h")
	v.SetDefault("dnssec.ksk_rollover", "manual")
	v.SetDefault("dnssec.ksk_lifetime", 365*24*time.Hour)
	v.SetDefault("dnssec.propagation_delay", 5*time.Minute)
	v.SetDefault("dnssec.parent_ds_ttl", 24*time.Hour)
	v.SetDefault("dnssec.parent_propagation", time.Hour)
	v.SetDefault("dnssec.ds_check_interval", time.Hour)
	v.SetDefault("dnssec.ds_wait_limit", 7*24*time.Hour)
	v.SetDefault("dnssec.ksk_check_interval", time.Minute)
	v.SetDefault("dnssec.ksk_retry_min", time.Minute)
}

// loadConfig decodes and validates; every error names the config key at fault.
func loadConfig(v *viper.Viper, zoneFlags []string) (*config, error) {
	setDefaults(v)
	if err := readConfig(v); err != nil {
		return nil, err
	}
	var c config
	if err := v.Unmarshal(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	// The --listen flag and SIGNET_LISTEN arrive as one comma-separated string at times.
	c.Listen = splitList(c.Listen)
	for _, z := range zoneFlags {
		origin, file, ok := strings.Cut(z, "=")
		if !ok || origin == "" || file == "" {
			return nil, fmt.Errorf("--zone %q: want ORIGIN=FILE", z)
		}
		c.Zones = append(c.Zones, zoneConfig{Origin: origin, File: file})
	}
	if len(c.Zones) == 0 {
		return nil, fmt.Errorf("zones: no zone configured (--zone ORIGIN=FILE or zones: in the config file)")
	}
	seen := map[string]bool{}
	for i := range c.Zones {
		z := &c.Zones[i]
		if z.File == "" && len(z.Primaries) == 0 {
			return nil, fmt.Errorf("zones[%d].file: missing (or primaries: for a secondary zone)", i)
		}
		if err := checkTransferConfig(&c, i); err != nil {
			return nil, err
		}
		z.Origin = strings.ToLower(dnsFqdn(z.Origin))
		if seen[z.Origin] {
			return nil, fmt.Errorf("zones[%d].origin: %s is configured twice", i, z.Origin)
		}
		seen[z.Origin] = true
		if z.Denial != "" {
			if _, err := parseDenial(z.Denial); err != nil {
				return nil, fmt.Errorf("zones[%d].denial: %w", i, err)
			}
		}
	}
	if len(c.Listen) == 0 {
		return nil, fmt.Errorf("listen: no address")
	}
	if _, err := parseDenial(c.DNSSEC.Denial); err != nil {
		return nil, fmt.Errorf("dnssec.denial: %w", err)
	}
	if c.DNSSEC.Validity < 2*time.Hour {
		return nil, fmt.Errorf("dnssec.validity: %s is too short (at least 2h)", c.DNSSEC.Validity)
	}
	if c.DNSSEC.Refresh <= 0 || c.DNSSEC.Refresh >= c.DNSSEC.Validity {
		return nil, fmt.Errorf("dnssec.refresh: %s must be positive and below dnssec.validity (%s)", c.DNSSEC.Refresh, c.DNSSEC.Validity)
	}
	if _, _, err := parseZSKLifetime(c.DNSSEC.ZSKLifetime); err != nil {
		return nil, fmt.Errorf("dnssec.zsk_lifetime: %w", err)
	}
	if _, err := parseKSKRollover(c.DNSSEC.KSKRollover); err != nil {
		return nil, fmt.Errorf("dnssec.ksk_rollover: %w", err)
	}
	for i, z := range c.Zones {
		if _, _, err := parseZSKLifetime(z.ZSKLifetime); z.ZSKLifetime != "" && err != nil {
			return nil, fmt.Errorf("zones[%d].zsk_lifetime: %w", i, err)
		}
		if _, err := parseKSKRollover(z.KSKRollover); z.KSKRollover != "" && err != nil {
			return nil, fmt.Errorf("zones[%d].ksk_rollover: %w", i, err)
		}
	}
	if c.DNSSEC.CacheSize <= 0 {
		return nil, fmt.Errorf("dnssec.cache_size: must be positive")
	}
	if c.DNSSEC.KSKCheckInterval < time.Second {
		return nil, fmt.Errorf("dnssec.ksk_check_interval: %s is too short (at least 1s)", c.DNSSEC.KSKCheckInterval)
	}
	if c.DNSSEC.KSKRetryMin < time.Second {
		return nil, fmt.Errorf("dnssec.ksk_retry_min: %s is too short (at least 1s)", c.DNSSEC.KSKRetryMin)
	}
	return &c, nil
}

func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func dnsFqdn(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

func (c *config) serverConfig() server.Config {
	return server.Config{
		Listen:          c.Listen,
		UDPSize:         c.UDPSize,
		PacketCacheSize: c.PacketCache,
		TCPIdleTimeout:  c.TCP.IdleTimeout,
		MaxTCPConns:     c.TCP.MaxConns,
		MaxTCPQueries:   c.TCP.MaxQueries,
		ChaosVersion:    c.Chaos.Version,
		ChaosID:         c.Chaos.ID,
	}
}
