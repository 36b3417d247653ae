package keymgr

import (
	"bytes"
	"net/http"
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

// handleForecast is GET /v1/zones/{zone}/dnssec/plan?for=400d[&format=svg]: the forecast as
// JSON, or its timeline picture.
func (m *Manager) handleForecast(w http.ResponseWriter, r *http.Request) {
	horizon := 400 * 24 * time.Hour
	if v := r.URL.Query().Get("for"); v != "" {
		d, err := forecast.ParseDuration(v)
		if err != nil {
			m.writeError(w, errorf(CodeInvalidArgument, "for=%q: %v", v, err))
			return
		}
		horizon = d
	}
	f, err := m.Forecast(r.PathValue("zone"), horizon)
	if err != nil {
		m.writeError(w, err)
		return
	}
	switch r.URL.Query().Get("format") {
	case "", "json":
		writeJSON(w, http.StatusOK, f)
	case "svg":
		var b bytes.Buffer
		if err := f.SVG(&b); err != nil {
			m.writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write(b.Bytes())
	default:
		m.writeError(w, errorf(CodeInvalidArgument, "format=%q: want json or svg", r.URL.Query().Get("format")))
	}
}
