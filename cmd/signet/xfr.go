package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/xfr"
)

// checkTransferConfig validates the zone transfer settings of zones[i].
func checkTransferConfig(c *config, i int) error {
	z := c.Zones[i]
	for _, p := range z.Primaries {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return fmt.Errorf("zones[%d].primaries: %q: want host:port", i, p)
		}
	}
	if z.TSIG != "" {
		if findKey(c, z.TSIG) < 0 {
			return fmt.Errorf("zones[%d].tsig: no key %q in tsig_keys", i, z.TSIG)
		}
		if len(z.Primaries) == 0 {
			return fmt.Errorf("zones[%d].tsig: set, but the zone has no primaries", i)
		}
	}
	return nil
}

func findKey(c *config, name string) int {
	for i, k := range c.TSIGKeys {
		if dns.CanonicalName(k.Name) == dns.CanonicalName(name) {
			return i
		}
	}
	return -1
}

// setupTransfers creates the secondaries of the zones that have primaries, adds them to zs,
// and returns the service that answers their NOTIFY messages (nil when there are none) and a
// function that starts their refresh loops.
func setupTransfers(c *config, zs *server.ZoneSet, log *slog.Logger) (*xfr.Service, func(ctx context.Context), error) {
	keys := map[string]*xfr.Key{}
	for i, kc := range c.TSIGKeys {
		k, err := xfr.LoadKey(kc.Name, kc.Algorithm, kc.SecretFile)
		if err != nil {
			return nil, nil, fmt.Errorf("tsig_keys[%d]: %w", i, err)
		}
		keys[k.Name] = &k
	}
	var secs []*xfr.Secondary
	for _, z := range c.Zones {
		if len(z.Primaries) == 0 {
			continue
		}
		path := z.File
		if path == "" {
			dir := filepath.Join(c.State, "secondary")
			if err := atomicfile.PrepareDir(dir); err != nil {
				return nil, nil, fmt.Errorf("zone %s: %w", z.Origin, err)
			}
			path = filepath.Join(dir, copyName(z.Origin))
		}
		sec, err := xfr.NewSecondary(xfr.SecondaryConfig{
			Origin:    z.Origin,
			Primaries: z.Primaries,
			Key:       keys[dns.CanonicalName(z.TSIG)],
			Path:      path,
			Logger:    log,
			Changed: func(origin string) {
				if err := zs.ReloadZone(origin); err != nil {
					log.Error("serving the transferred zone failed", "zone", origin, "err", err)
				}
			},
		})
		if err != nil {
			return nil, nil, err
		}
		if err := zs.AddLoader(z.Origin, "primaries "+strings.Join(z.Primaries, ","), sec); err != nil {
			return nil, nil, err
		}
		secs = append(secs, sec)
	}
	if len(secs) == 0 {
		return nil, func(context.Context) {}, nil
	}
	run := func(ctx context.Context) {
		for _, s := range secs {
			go s.Run(ctx)
		}
	}
	return xfr.NewService(log, secs...), run, nil
}

// copyName is the file name of a secondary zone's saved copy: the origin when it is a plain
// host name, else its hex form (a name may hold any octet, "/" included).
func copyName(origin string) string {
	if origin == "." {
		return "root.zone"
	}
	for _, r := range origin {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Sprintf("%x.zone", origin)
		}
	}
	return origin + "zone"
}
