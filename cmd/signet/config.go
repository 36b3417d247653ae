package main

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/spf13/viper"

	"github.com/signetdns/signet/cluster"
	"github.com/signetdns/signet/cookie"
	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/memlimit"
	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/rrl"
	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/zonewatch"
)

// config is the whole configuration, decoded from the YAML file, SIGNET_* variables and flags.
// Its mapstructure tags are the configuration keys: the list of keys settable from the
// environment, the unknown-key check and `signet config dump` are all derived from them.
type config struct {
	Listen []string     `mapstructure:"listen"`
	Zones  []zoneConfig `mapstructure:"zones"`
	State  string       `mapstructure:"state"`
	// Strict makes a zone that fails to load at start (its file, or its DNSSEC keys or key
	// state) stop the server (--strict), instead of answering SERVFAIL for that zone while the
	// others serve.
	Strict  bool   `mapstructure:"strict"`
	UDPSize uint16 `mapstructure:"udp_size"`
	// PacketCache is the number of whole responses kept for repeated questions.
	PacketCache int `mapstructure:"packet_cache_size"`
	// MemoryLimit is the Go runtime's soft memory limit ("2GiB"); empty: 90% of the cgroup's
	// memory.max when there is one. GOMEMLIMIT in the environment overrides it.
	MemoryLimit string `mapstructure:"memory_limit"`
	TCP         struct {
		IdleTimeout time.Duration `mapstructure:"idle_timeout"`
		MaxConns    int           `mapstructure:"max_conns"`
		MaxQueries  int           `mapstructure:"max_queries"`
		// MaxConnsPerClient caps the connections one IP address may hold.
		MaxConnsPerClient int `mapstructure:"max_conns_per_client"`
	} `mapstructure:"tcp"`
	RRL     rrlConfig     `mapstructure:"rrl"`
	Cookies cookiesConfig `mapstructure:"cookies"`
	Chaos   struct {
		Version string `mapstructure:"version"`
		ID      string `mapstructure:"id"`
	} `mapstructure:"chaos"`
	Admin struct {
		Addr  string `mapstructure:"addr"`
		Token string `mapstructure:"token" secret:"true"`
		// Socket is the control socket; empty: admin.sock in the state directory; "off": none.
		Socket string `mapstructure:"socket"`
		// Hosts are extra names the TCP listener accepts in the Host header.
		Hosts []string `mapstructure:"hosts"`
	} `mapstructure:"admin"`
	Log struct {
		Level  string `mapstructure:"level"`
		Format string `mapstructure:"format"`
		// Queries logs one query in every Queries (1: all); 0, the default, logs none.
		Queries int `mapstructure:"queries"`
	} `mapstructure:"log"`
	// Reload says how zone files are re-read besides SIGHUP and the admin API.
	Reload struct {
		// Watch reloads a zone when its file changes on disk (default true).
		Watch bool `mapstructure:"watch"`
		// Debounce is the quiet period after a change before the reload.
		Debounce time.Duration `mapstructure:"debounce"`
	} `mapstructure:"reload"`
	// TSIGKeys are the TSIG keys (RFC 8945) zones name in zones[].tsig.
	TSIGKeys []tsigKeyConfig `mapstructure:"tsig_keys"`
	DNSSEC   dnssecConfig    `mapstructure:"dnssec"`
	Keystore keystoreConfig  `mapstructure:"keystore"`
	// Cluster makes this server one instance of several that serve the same zones from one
	// key state in etcd; empty: a single server.
	Cluster clusterConfig `mapstructure:"cluster"`

	// file is the configuration file it was read from ("" when none), read again on SIGHUP
	// for what a running server takes again.
	file string
}

// tsigKeyConfig is one entry of tsig_keys. The secret is never in the config: secret_file
// holds it, base64, in a file readable by its owner only.
type tsigKeyConfig struct {
	Name       string `mapstructure:"name"`
	Algorithm  string `mapstructure:"algorithm"`
	SecretFile string `mapstructure:"secret_file"`
}

// zoneConfig is one entry of the "zones" list. Every signing setting of dnssec.* may be
// repeated here to override it for this zone.
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
	// Secondaries may transfer the zone (AXFR/IXFR out) and are sent NOTIFY on each change:
	// IP or IP:port (port 53 by default).
	Secondaries []string `mapstructure:"secondaries"`
	// Transfer is what secondaries get: "unsigned" (the zone as loaded, the default when
	// secondaries are set) or "signed" (NSEC chain and signatures; needs denial: nsec).
	Transfer string `mapstructure:"transfer"`
	// Parents are the parent zone's name servers (host:port), asked whether the parent still
	// publishes a DS before signing is disabled, and during KSK rollovers.
	Parents      []string `mapstructure:"parents"`
	ZoneSettings `mapstructure:",squash"`
}

// keystoreConfig says where private keys live.
type keystoreConfig struct {
	// PassphraseFile or PassphraseEnv give the software keystore's passphrase (never the
	// config itself).
	PassphraseFile string `mapstructure:"passphrase_file"`
	PassphraseEnv  string `mapstructure:"passphrase_env"`
	// WorkFactor is the scrypt cost (log2 N) of new key files; 0 means
	// file.DefaultWorkFactor, or 10 when the quick start made a random passphrase.
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
	Enabled   bool `mapstructure:"enabled"`
	CacheSize int  `mapstructure:"cache_size"`
	// KSKCheckInterval is how often every active KSK is checked: a KSK that cannot sign
	// turns ACTION_NEEDED then, while pre-made signatures are served.
	KSKCheckInterval time.Duration `mapstructure:"ksk_check_interval"`
	// KSKRetryMin is the first retry interval of a failing KSK (doubling to 15m).
	KSKRetryMin     time.Duration `mapstructure:"ksk_retry_min"`
	SigningSettings `mapstructure:",squash"`
}

// SigningSettings are the dnssec.* settings a zone entry may override. ZoneSettings must
// hold the same keys (a test checks it).
type SigningSettings struct {
	Denial    string        `mapstructure:"denial"`
	Algorithm string        `mapstructure:"algorithm"`
	Validity  time.Duration `mapstructure:"validity"`
	Refresh   time.Duration `mapstructure:"refresh"`
	DNSKEYTTL uint32        `mapstructure:"dnskey_ttl"`
	CDS       bool          `mapstructure:"cds"`
	// ZSKLifetime is the ZSK rotation period: a duration, "route53" (a random 7-30 days
	// drawn once per zone), or a negative duration for never.
	ZSKLifetime string `mapstructure:"zsk_lifetime"`
	// KSKRollover is "manual" (Route 53's procedure, the default) or "automatic" (double-KSK
	// with CDS/CDNSKEY and parent DS checks every KSKLifetime).
	KSKRollover       string        `mapstructure:"ksk_rollover"`
	KSKLifetime       time.Duration `mapstructure:"ksk_lifetime"`
	PropagationDelay  time.Duration `mapstructure:"propagation_delay"`
	ParentDSTTL       time.Duration `mapstructure:"parent_ds_ttl"`
	ParentPropagation time.Duration `mapstructure:"parent_propagation"`
	DSCheckInterval   time.Duration `mapstructure:"ds_check_interval"`
	DSWaitLimit       time.Duration `mapstructure:"ds_wait_limit"`
}

// ZoneSettings are a zone's overrides of SigningSettings: nil keeps the global value.
type ZoneSettings struct {
	Denial            *string        `mapstructure:"denial"`
	Algorithm         *string        `mapstructure:"algorithm"`
	Validity          *time.Duration `mapstructure:"validity"`
	Refresh           *time.Duration `mapstructure:"refresh"`
	DNSKEYTTL         *uint32        `mapstructure:"dnskey_ttl"`
	CDS               *bool          `mapstructure:"cds"`
	ZSKLifetime       *string        `mapstructure:"zsk_lifetime"`
	KSKRollover       *string        `mapstructure:"ksk_rollover"`
	KSKLifetime       *time.Duration `mapstructure:"ksk_lifetime"`
	PropagationDelay  *time.Duration `mapstructure:"propagation_delay"`
	ParentDSTTL       *time.Duration `mapstructure:"parent_ds_ttl"`
	ParentPropagation *time.Duration `mapstructure:"parent_propagation"`
	DSCheckInterval   *time.Duration `mapstructure:"ds_check_interval"`
	DSWaitLimit       *time.Duration `mapstructure:"ds_wait_limit"`
}

// setDefaults gives every key with a default its value, taken from the package that owns the
// setting, so that `config dump` shows and validation sees what the components will use.
func setDefaults(v *viper.Viper) {
	v.SetDefault("listen", []string{server.DefaultListen})
	v.SetDefault("state", "./state")
	v.SetDefault("cluster.id", "signet")
	v.SetDefault("cluster.lease_ttl", cluster.DefaultLeaseTTL)
	v.SetDefault("cluster.sync_timeout", cluster.DefaultSyncTimeout)
	v.SetDefault("log.queries", 0)
	v.SetDefault("reload.watch", true)
	v.SetDefault("reload.debounce", zonewatch.DefaultDebounce)
	v.SetDefault("udp_size", server.DefaultUDPSize)
	v.SetDefault("cookies.enabled", true)
	v.SetDefault("cookies.rotate", cookie.DefaultRotate)
	v.SetDefault("rrl.mode", "auto")
	v.SetDefault("rrl.responses_per_second", rrl.DefaultResponsesPerSecond)
	v.SetDefault("rrl.slip", rrl.DefaultSlip)
	v.SetDefault("rrl.ipv4_prefix", rrl.DefaultIPv4PrefixLen)
	v.SetDefault("rrl.ipv6_prefix", rrl.DefaultIPv6PrefixLen)
	v.SetDefault("packet_cache_size", server.DefaultPacketCacheSize)
	v.SetDefault("tcp.idle_timeout", server.DefaultTCPIdleTimeout)
	v.SetDefault("tcp.max_conns", server.DefaultMaxTCPConns)
	v.SetDefault("tcp.max_queries", server.DefaultMaxTCPQueries)
	v.SetDefault("tcp.max_conns_per_client", server.DefaultMaxTCPPerClient)
	v.SetDefault("dnssec.denial", denialNames[signer.Compact])
	v.SetDefault("dnssec.validity", signer.DefaultValidity)
	v.SetDefault("dnssec.refresh", signer.DefaultRefresh)
	v.SetDefault("dnssec.cache_size", signer.DefaultCacheSize)
	v.SetDefault("dnssec.dnskey_ttl", uint32(keymgr.DefaultDNSKEYTTL/time.Second))
	v.SetDefault("dnssec.algorithm", dns.AlgorithmToString[keymgr.DefaultAlgorithm])
	v.SetDefault("dnssec.zsk_lifetime", rollover.DefaultZSKLifetime.String())
	v.SetDefault("dnssec.ksk_rollover", kskManual)
	v.SetDefault("dnssec.ksk_lifetime", rollover.DefaultKSKLifetime)
	v.SetDefault("dnssec.propagation_delay", rollover.DefaultPropagationDelay)
	v.SetDefault("dnssec.parent_ds_ttl", rollover.DefaultParentDSTTL)
	v.SetDefault("dnssec.parent_propagation", rollover.DefaultParentPropagation)
	v.SetDefault("dnssec.ds_check_interval", rollover.DefaultDSCheckInterval)
	v.SetDefault("dnssec.ds_wait_limit", rollover.DefaultDSWaitLimit)
	v.SetDefault("dnssec.ksk_check_interval", keymgr.DefaultKSKCheckInterval)
	v.SetDefault("dnssec.ksk_retry_min", keymgr.RetryMin)
}

// loadConfig decodes and validates; every error names the config key (and file) at fault.
func loadConfig(v *viper.Viper, zoneFlags []string) (*config, error) {
	c, err := decodeConfig(v, zoneFlags)
	if err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeConfig merges defaults, the config file, SIGNET_* variables and flags (in rising
// order of precedence) into a config, without validating it. An unknown key in the file is
// an error.
func decodeConfig(v *viper.Viper, zoneFlags []string) (*config, error) {
	setDefaults(v)
	bindEnv(v)
	if err := readConfig(v); err != nil {
		return nil, err
	}
	if err := checkKnownKeys(v.ConfigFileUsed()); err != nil {
		return nil, err
	}
	var c config
	if err := v.Unmarshal(&c, viper.DecodeHook(decodeHook)); err != nil {
		return nil, fmt.Errorf("config: %w%s", err, fromEnvironment(err))
	}
	c.file = v.ConfigFileUsed()
	// The --listen flag and SIGNET_LISTEN arrive as one comma-separated string at times.
	c.Listen = splitList(c.Listen)
	for _, z := range zoneFlags {
		zc, err := parseZoneArg(z)
		if err != nil {
			return nil, fmt.Errorf("--zone %w", err)
		}
		c.Zones = append(c.Zones, zc)
	}
	for i := range c.Zones {
		if c.Zones[i].Origin != "" {
			c.Zones[i].Origin = strings.ToLower(dnsFqdn(c.Zones[i].Origin))
		}
	}
	return &c, nil
}

// parseZoneArg reads ORIGIN=FILE, the form of --zone and of SIGNET_ZONES entries.
func parseZoneArg(s string) (zoneConfig, error) {
	origin, file, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || origin == "" || file == "" {
		return zoneConfig{}, fmt.Errorf("%q: want ORIGIN=FILE", s)
	}
	return zoneConfig{Origin: origin, File: file}, nil
}

// validate checks every setting; the error names the key at fault.
func (c *config) validate() error {
	// Every problem is reported, not only the first, so that one `signet config check` names
	// them all.
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(c.Zones) == 0 {
		add(fmt.Errorf("zones: no zone configured (--zone ORIGIN=FILE or zones: in the config file)"))
	}
	if len(c.Listen) == 0 {
		add(fmt.Errorf("listen: no address"))
	}
	for _, a := range c.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			add(fmt.Errorf("listen: %q: want host:port ([::1]:53 for IPv6)", a))
		}
	}
	if _, err := memlimit.ParseSize(c.MemoryLimit); err != nil {
		add(fmt.Errorf("memory_limit: %w", err))
	}
	if c.DNSSEC.CacheSize <= 0 {
		add(fmt.Errorf("dnssec.cache_size: must be positive"))
	}
	if c.DNSSEC.KSKCheckInterval < time.Second {
		add(fmt.Errorf("dnssec.ksk_check_interval: %s is too short (at least 1s)", c.DNSSEC.KSKCheckInterval))
	}
	if c.DNSSEC.KSKRetryMin < time.Second {
		add(fmt.Errorf("dnssec.ksk_retry_min: %s is too short (at least 1s)", c.DNSSEC.KSKRetryMin))
	}
	if c.Reload.Debounce < 0 {
		add(fmt.Errorf("reload.debounce: %s is negative", c.Reload.Debounce))
	}
	if c.TCP.MaxConnsPerClient <= 0 {
		add(fmt.Errorf("tcp.max_conns_per_client: %d must be positive", c.TCP.MaxConnsPerClient))
	}
	add(c.RRL.validate())
	add(c.Cluster.validate())
	add(c.Cookies.validate())
	if c.Log.Queries < 0 {
		add(fmt.Errorf("log.queries: %d is negative (0 logs no query, N one in N)", c.Log.Queries))
	}
	if c.Keystore.PassphraseFile != "" && c.Keystore.PassphraseEnv != "" {
		add(fmt.Errorf("keystore.passphrase_file and keystore.passphrase_env: set one, not both"))
	}
	global := c.DNSSEC.SigningSettings.validate("dnssec.")
	add(global)
	seen := map[string]bool{}
	for i, z := range c.Zones {
		if z.Origin == "" {
			add(fmt.Errorf("zones[%d].origin: missing", i))
			continue
		}
		if _, ok := dns.IsDomainName(z.Origin); !ok {
			add(fmt.Errorf("zones[%d].origin: %q is not a domain name", i, z.Origin))
			continue
		}
		if z.File == "" && len(z.Primaries) == 0 {
			add(fmt.Errorf("zones[%d].file: missing (or primaries: for a secondary zone)", i))
		}
		add(checkTransferConfig(c, i))
		if seen[z.Origin] {
			add(fmt.Errorf("zones[%d].origin: %s is configured twice", i, z.Origin))
		}
		seen[z.Origin] = true
		s := c.settings(z)
		prefix := fmt.Sprintf("zones[%d].", i)
		if err := inherited(s.validate(prefix), global, prefix); err != nil {
			add(fmt.Errorf("%w (zone %s)", err, z.Origin))
		}
		if c.Cluster.enabled() && s.PropagationDelay > 0 && c.Cluster.SyncTimeout >= s.PropagationDelay {
			// The rollover intervals count the propagation delay from the leader's change; an
			// instance may lag up to the sync timeout before the leader goes on without it, so
			// the delay must leave room for that lag (and for resolvers' own propagation).
			add(fmt.Errorf("cluster.sync_timeout: %s must be well under the propagation_delay of zone %s (%s)", c.Cluster.SyncTimeout, z.Origin, s.PropagationDelay))
		}
	}
	return errors.Join(errs...)
}

// inherited drops from a zone's errors those that repeat an error of the global settings
// (the zone inherits the bad value): each problem is named once, where it is set.
func inherited(zone, global error, prefix string) error {
	if zone == nil || global == nil {
		return zone
	}
	bad := map[string]bool{}
	for _, e := range unjoin(global) {
		bad[e.Error()] = true
	}
	var keep []error
	for _, e := range unjoin(zone) {
		if !bad["dnssec."+strings.TrimPrefix(e.Error(), prefix)] {
			keep = append(keep, e)
		}
	}
	return errors.Join(keep...)
}

// unjoin returns the errors errors.Join made err of, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// validate checks one zone's effective settings; prefix ("dnssec." or "zones[i].") makes the
// error name the key.
func (s SigningSettings) validate(prefix string) error {
	var errs []error
	bad := func(key string, err error) { errs = append(errs, fmt.Errorf("%s%s: %w", prefix, key, err)) }
	if _, err := parseDenial(s.Denial); err != nil {
		bad("denial", err)
	}
	if _, err := parseAlgorithm(s.Algorithm); err != nil {
		bad("algorithm", err)
	}
	if s.Validity < 2*time.Hour {
		bad("validity", fmt.Errorf("%s is too short (at least 2h)", s.Validity))
	}
	// A cached signature is re-made once less than refresh remains; the expiration is
	// lowered by up to the jitter, so refresh must leave room for both or nothing caches.
	if s.Refresh <= 0 || s.Refresh >= s.Validity-signer.DefaultJitter {
		bad("refresh", fmt.Errorf("%s must be positive and below validity (%s) minus the %s signature jitter", s.Refresh, s.Validity, signer.DefaultJitter))
	}
	if s.DNSKEYTTL == 0 {
		bad("dnskey_ttl", errors.New("must be at least 1 (seconds)"))
	}
	if _, _, err := parseZSKLifetime(s.ZSKLifetime); err != nil {
		bad("zsk_lifetime", err)
	}
	if _, err := parseKSKRollover(s.KSKRollover); err != nil {
		bad("ksk_rollover", err)
	}
	for key, d := range map[string]time.Duration{
		"ksk_lifetime": s.KSKLifetime, "propagation_delay": s.PropagationDelay,
		"parent_ds_ttl": s.ParentDSTTL, "parent_propagation": s.ParentPropagation,
		"ds_check_interval": s.DSCheckInterval, "ds_wait_limit": s.DSWaitLimit,
	} {
		if d < 0 {
			bad(key, fmt.Errorf("%s is negative", d))
		}
	}
	if len(errs) == 0 {
		if p, err := s.rollover(); err == nil {
			if err := p.WithDefaults().Validate(); err != nil {
				errs = append(errs, fmt.Errorf("%s rollover settings: %w", strings.TrimSuffix(prefix, "."), err))
			}
		}
	}
	// Sorted by key for a stable message (map iteration above is not).
	return joinSorted(errs)
}

// settings returns z's effective signing settings: the global ones with z's overrides.
func (c *config) settings(z zoneConfig) SigningSettings {
	s := c.DNSSEC.SigningSettings
	overlay(&s, &z.ZoneSettings)
	return s
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
		Listen:               c.Listen,
		UDPSize:              c.UDPSize,
		PacketCacheSize:      c.PacketCache,
		TCPIdleTimeout:       c.TCP.IdleTimeout,
		MaxTCPConns:          c.TCP.MaxConns,
		MaxTCPQueries:        c.TCP.MaxQueries,
		MaxTCPConnsPerClient: c.TCP.MaxConnsPerClient,
		ChaosVersion:         c.Chaos.Version,
		ChaosID:              c.Chaos.ID,
		QueryLog:             c.Log.Queries,
		RRL:                  c.RRL.limiter(c.Listen),
	}
}
