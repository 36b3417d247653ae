package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/forecast"
	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/zones"
)

// offlinePlan is `signet dnssec plan ZONE --policy FILE`: the plan of the zone under the
// configuration in FILE, made here without a server and from fresh keys, as if signing
// started now. It is the picture to look at before putting a policy in place (a restart
// applies it, and an algorithm rollover it implies would start at once).
func offlinePlan(path, zone string, horizon time.Duration, now time.Time) (*forecast.Forecast, error) {
	c, err := loadConfig(newViperFor(path), nil)
	if err != nil {
		return nil, err
	}
	origin := strings.ToLower(dns.Fqdn(zone))
	var zc *zoneConfig
	for i := range c.Zones {
		if c.Zones[i].Origin == origin {
			zc = &c.Zones[i]
		}
	}
	if zc == nil {
		return nil, fmt.Errorf("%s: no zone %s", path, origin)
	}
	if zc.File == "" || len(zc.Primaries) > 0 {
		return nil, fmt.Errorf("zone %s is a secondary: its TTLs come from its primary, so only the running server can plan it", origin)
	}
	p, validity, refresh, notes, err := servedPolicy(c, *zc)
	if err != nil {
		return nil, err
	}
	f := forecast.Project(origin, nil, p, forecast.Options{From: now, Horizon: horizon,
		Validity: validity, Refresh: refresh, NoParents: len(zc.Parents) == 0})
	f.Findings = append(f.Findings, notes...)
	f.Findings = append(f.Findings, forecast.Finding{Severity: forecast.Warning, Interval: "keys",
		Message: fmt.Sprintf("planned from %s without the server: from fresh keys, as if signing started now (the running zone's keys may be elsewhere in their timeline)", path)})
	return &f, nil
}

// servedPolicy is zone zc's rollover policy (defaults filled in) as the server would apply
// it, with the largest TTL of its zone file as served (capped as a signed zone's are), its
// signature validity and refresh, and notes on what had to be assumed.
func servedPolicy(c *config, zc zoneConfig) (p rollover.Policy, validity, refresh time.Duration, notes []forecast.Finding, err error) {
	zp, err := zonePolicy(c, zc)
	if err != nil {
		return p, 0, 0, nil, err
	}
	// Signed zones cap their TTLs as the server does, so the largest TTL is the one served.
	loaded, err := zones.Load(zc.Origin, zc.File, zones.Options{MaxTTL: zones.MaxSignedTTL})
	if err != nil {
		return p, 0, 0, nil, fmt.Errorf("zone %s: %w", zc.Origin, err)
	}
	p = zp.Rollover
	p.DNSKEYTTL, p.Algorithm = zp.DNSKEYTTL, zp.Algorithm
	p.MaxZoneTTL = time.Duration(loaded.MaxTTL()) * time.Second
	if zp.Route53ZSKLifetime {
		// The preset draws each zone's lifetime once, at random; the shortest is the one the
		// checks must pass with.
		p.ZSKLifetime = 7 * 24 * time.Hour
		notes = append(notes, forecast.Finding{Severity: forecast.Warning, Interval: "zsk-lifetime",
			Message: "zsk_lifetime route53 draws 7 to 30 days when the zone is first signed; this plan uses 7 days"})
	}
	validity, refresh = c.DNSSEC.Validity, c.DNSSEC.Refresh
	if zp.Validity > 0 {
		validity = zp.Validity
	}
	if zp.Refresh > 0 {
		refresh = zp.Refresh
	}
	return p.WithDefaults(), validity, refresh, notes, nil
}
