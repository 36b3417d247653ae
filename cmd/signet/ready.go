package main

import (
	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/server"
)

// readiness is the /readyz probe: ready when every zone is loaded (a stale version counts, it
// is served) and every signed zone can sign.
func readiness(zs *server.ZoneSet, dn dnssecRuntime) func() admin.Readiness {
	return func() admin.Readiness {
		out := admin.Readiness{Ready: true, Zones: []admin.ZoneReadiness{}}
		for _, z := range zs.Status() {
			zr := admin.ZoneReadiness{Zone: z.Zone, Loaded: z.Loaded, Signed: dn.Signed(z.Zone)}
			if !z.Loaded {
				zr.Reason = "not loaded"
				if z.Error != "" {
					zr.Reason += ": " + z.Error
				}
			}
			if zr.Signed {
				var why string
				zr.CanSign, why = dn.CanSign(z.Zone)
				if !zr.CanSign && zr.Reason == "" {
					zr.Reason = why
				}
			}
			if zr.Reason != "" {
				out.Ready = false
			}
			out.Zones = append(out.Zones, zr)
		}
		out.Cluster = dn.ClusterReadiness()
		return out
	}
}
