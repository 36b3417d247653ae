package keymgr

import (
	"time"

	"github.com/signetdns/signet/forecast"
	"github.com/signetdns/signet/rollover"
)

// maxForecast bounds the horizon a caller may ask for: the projection steps through every
// event, so ten years is plenty and keeps a request cheap.
const maxForecast = 3650 * 24 * time.Hour

// Forecast projects the zone's coming rollover events over horizon from now, with the keys
// and the policy the key manager runs (package forecast), and checks the policy against the
// zone's TTLs. It changes nothing.
func (m *Manager) Forecast(zone string, horizon time.Duration) (*forecast.Forecast, error) {
	if horizon <= 0 || horizon > maxForecast {
		return nil, errorf(CodeInvalidArgument, "forecast horizon %v: want more than 0 and at most 3650d", horizon)
	}
	z, err := m.zone(zone)
	if err != nil {
		return nil, err
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	var keys []rollover.Key
	if z.st != nil {
		keys = z.st.timelines()
	}
	f := forecast.Project(z.name, keys, z.policyFor(z.st), forecast.Options{
		From: m.cfg.Now(), Horizon: horizon, Validity: m.cfg.Signer.Validity, Refresh: m.cfg.Signer.Refresh,
		NoParents: len(z.policy.Parents) == 0,
	})
	if z.st == nil || !z.st.Signing {
		f.Findings = append(f.Findings, forecast.Finding{Severity: forecast.Warning, Interval: "signing",
			Message: "the zone is not signed: this is what would happen if signing were enabled now"})
	}
	return &f, nil
}
