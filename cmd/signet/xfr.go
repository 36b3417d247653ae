package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/internal/atomicfile"
	"github.com/signetdns/signet/server"
	"github.com/signetdns/signet/signer"
	"github.com/signetdns/signet/xfr"
	"github.com/signetdns/signet/zones"
)

// checkTransferConfig validates the zone transfer settings of zones[i].
func checkTransferConfig(c *config, i int) error {
	z := c.Zones[i]
	for _, p := range z.Primaries {
		if _, _, err := net.SplitHostPort(p); err != nil {
			return fmt.Errorf("zones[%d].primaries: %q: want host:port", i, p)
		}
	}
	outbound := z.Transfer != "" || len(z.Secondaries) > 0
	if z.TSIG != "" {
		if findKey(c, z.TSIG) < 0 {
			return fmt.Errorf("zones[%d].tsig: no key %q in tsig_keys", i, z.TSIG)
		}
		if len(z.Primaries) == 0 && !outbound {
			return fmt.Errorf("zones[%d].tsig: set, but the zone has neither primaries nor secondaries", i)
		}
	}
	for _, s := range z.Secondaries {
		if _, err := secondaryAddrPort(s); err != nil {
			return fmt.Errorf("zones[%d].secondaries: %q: want an IP address or IP:port", i, s)
		}
	}
	switch strings.ToLower(z.Transfer) {
	case "", "unsigned":
	case "signed":
		if mode, err := parseDenial(c.settings(z).Denial); err == nil && mode != signer.NSEC && mode != signer.NSEC3 {
			return fmt.Errorf("zones[%d].transfer: signed needs the zone's denial to be nsec or nsec3 (a real chain to transfer), not %s", i, c.settings(z).Denial)
		}
	default:
		return fmt.Errorf("zones[%d].transfer: %q: want unsigned or signed", i, z.Transfer)
	}
	if outbound && len(z.Secondaries) == 0 && z.TSIG == "" {
		return fmt.Errorf("zones[%d].transfer: set, but neither secondaries nor tsig say who may transfer the zone", i)
	}
	return nil
}

func secondaryAddrPort(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return netip.AddrPortFrom(a, 53), err
}

func findKey(c *config, name string) int {
	for i, k := range c.TSIGKeys {
		if dns.CanonicalName(k.Name) == dns.CanonicalName(name) {
			return i
		}
	}
	return -1
}

// setupTransfers creates the secondaries of the zones that have primaries (and adds them to
// zs) and the outgoing side of the zones offered to secondaries, and returns the service that
// answers NOTIFY and transfer requests (nil when there are none) and a function that starts
// their loops.
func setupTransfers(c *config, zs *server.ZoneSet, dn dnssecRuntime, log *slog.Logger, reg prometheus.Registerer) (*xfr.Service, func(ctx context.Context), error) {
	transfers := false
	for _, z := range c.Zones {
		transfers = transfers || len(z.Primaries) > 0 || len(z.Secondaries) > 0 || z.Transfer != ""
	}
	if !transfers {
		return nil, func(context.Context) {}, nil
	}
	metrics, err := xfr.NewMetrics(reg)
	if err != nil {
		return nil, nil, err
	}
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
			Metrics:   metrics,
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
	var outs []*xfr.Outgoing
	var pubs []*xfr.Publisher
	for _, z := range c.Zones {
		if z.Transfer == "" && len(z.Secondaries) == 0 {
			continue
		}
		out, err := xfr.NewOutgoing(xfr.OutgoingConfig{
			Origin:      z.Origin,
			Secondaries: append([]string(nil), z.Secondaries...),
			Key:         keys[dns.CanonicalName(z.TSIG)],
			Logger:      log,
			Metrics:     metrics,
		})
		if err != nil {
			return nil, nil, err
		}
		pc := xfr.PublisherConfig{
			Out:    out,
			Zone:   func() *zones.Zone { return zs.Store().Get(z.Origin) },
			Signed: strings.EqualFold(z.Transfer, "signed"),
			Logger: log,
		}
		if pc.Signed {
			sig, ok := dn.Signer().(*signer.Signer)
			if !ok {
				return nil, nil, fmt.Errorf("zone %s: transfer: signed needs the online signer", z.Origin)
			}
			dir := filepath.Join(c.State, "outgoing")
			if err := atomicfile.PrepareDir(dir); err != nil {
				return nil, nil, fmt.Errorf("zone %s: %w", z.Origin, err)
			}
			pc.Keys, pc.Signer, pc.SerialPath = dn.Keys(), sig, filepath.Join(dir, copyName(z.Origin)+".serial")
			pc.SetSerial = func(serial uint32) error { return zs.SetMinSerial(z.Origin, serial) }
		}
		pub, err := xfr.NewPublisher(pc)
		if err != nil {
			return nil, nil, fmt.Errorf("zone %s: %w", z.Origin, err)
		}
		outs, pubs = append(outs, out), append(pubs, pub)
	}
	run := func(ctx context.Context) {
		for _, s := range secs {
			go s.Run(ctx)
		}
		for _, p := range pubs {
			go p.Run(ctx)
		}
	}
	return xfr.NewService(log, metrics, secs, outs), run, nil
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
