package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/signetdns/signet/forecast"
	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore"
)

// Manager is what the DNSSEC calls need of the key manager (*keymgr.Manager implements it).
// Its errors are *keymgr.Error for refusals a client can act on.
type Manager interface {
	GetDNSSEC(ctx context.Context, zone string) (*keymgr.DNSSEC, error)
	Enable(ctx context.Context, zone string) error
	Disable(ctx context.Context, zone string, force bool) error
	CreateKSK(ctx context.Context, zone, name, status string) error
	ActivateKSK(ctx context.Context, zone, name string) error
	DeactivateKSK(ctx context.Context, zone, name string) error
	DeleteKSK(ctx context.Context, zone, name string) error
	ConfirmDS(ctx context.Context, zone, name string) error
	Rollover(ctx context.Context, zone string, role keystore.Role) error
	Forecast(zone string, horizon time.Duration) (*forecast.Forecast, error)
}

var _ Manager = (*keymgr.Manager)(nil)

// maxBody bounds a request body: the largest legitimate one, CreateKSKRequest, is a few
// dozen bytes.
const maxBody = 64 << 10

// dnssecAPI serves the DNSSEC calls from a Manager.
type dnssecAPI struct {
	m   Manager
	log *slog.Logger
}

// registerDNSSEC adds the DNSSEC calls to mux, shaped after Route 53's:
//
//	GET    /v1/zones/{zone}/dnssec                        GetDNSSEC
//	GET    /v1/zones/{zone}/dnssec/plan[?for=400d&format=json|svg]   the rollover forecast
//	POST   /v1/zones/{zone}/dnssec/enable                 EnableHostedZoneDNSSEC
//	POST   /v1/zones/{zone}/dnssec/disable[?force=true]   DisableHostedZoneDNSSEC
//	POST   /v1/zones/{zone}/dnssec/ksks                   CreateKeySigningKey (CreateKSKRequest)
//	POST   /v1/zones/{zone}/dnssec/ksks/{name}/activate   ActivateKeySigningKey
//	POST   /v1/zones/{zone}/dnssec/ksks/{name}/deactivate DeactivateKeySigningKey
//	DELETE /v1/zones/{zone}/dnssec/ksks/{name}            DeleteKeySigningKey
//	POST   /v1/zones/{zone}/dnssec/ksks/{name}/ds-seen    ConfirmDS: the parent shows the new DS
//	POST   /v1/zones/{zone}/dnssec/rollover?role=ksk|zsk&now=true   Rollover, started now
//
// Successful calls answer 200 with the zone's DNSSEC (the plan: its forecast); refusals answer Route 53's HTTP status
// with an ErrorResponse.
func registerDNSSEC(mux *http.ServeMux, m Manager, log *slog.Logger) {
	a := &dnssecAPI{m: m, log: log}
	mux.HandleFunc("GET /v1/zones/{zone}/dnssec", a.handle(func(r *http.Request, zone string) error { return nil }))
	mux.HandleFunc("GET /v1/zones/{zone}/dnssec/plan", a.forecast)
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/enable", a.handle(func(r *http.Request, zone string) error {
		return m.Enable(r.Context(), zone)
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/disable", a.handle(func(r *http.Request, zone string) error {
		force, err := boolParam(r, "force")
		if err != nil {
			return err
		}
		return m.Disable(r.Context(), zone, force)
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/ksks", a.handle(func(r *http.Request, zone string) error {
		req, err := DecodeCreateKSK(io.LimitReader(r.Body, maxBody))
		if err != nil {
			return err
		}
		return m.CreateKSK(r.Context(), zone, req.Name, req.Status)
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/ksks/{name}/activate", a.handle(func(r *http.Request, zone string) error {
		return m.ActivateKSK(r.Context(), zone, r.PathValue("name"))
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/ksks/{name}/deactivate", a.handle(func(r *http.Request, zone string) error {
		return m.DeactivateKSK(r.Context(), zone, r.PathValue("name"))
	}))
	mux.HandleFunc("DELETE /v1/zones/{zone}/dnssec/ksks/{name}", a.handle(func(r *http.Request, zone string) error {
		return m.DeleteKSK(r.Context(), zone, r.PathValue("name"))
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/ksks/{name}/ds-seen", a.handle(func(r *http.Request, zone string) error {
		return m.ConfirmDS(r.Context(), zone, r.PathValue("name"))
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/rollover", a.handle(func(r *http.Request, zone string) error {
		role, err := roleParam(r)
		if err != nil {
			return err
		}
		now, err := boolParam(r, "now")
		if err != nil {
			return err
		}
		if !now {
			// Scheduled rollovers follow the key lifetimes; only an immediate one is asked for.
			return &keymgr.Error{Code: keymgr.CodeInvalidArgument, Message: "only an immediate rollover can be requested: add now=true"}
		}
		return m.Rollover(r.Context(), zone, role)
	}))
}

// DecodeCreateKSK reads a CreateKSKRequest; anything else (unknown fields, trailing data,
// not JSON) is an InvalidInput refusal.
func DecodeCreateKSK(r io.Reader) (CreateKSKRequest, error) {
	var req CreateKSKRequest
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil && dec.More() {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return req, &keymgr.Error{Code: keymgr.CodeInvalidInput, Message: `request body: want {"Name": ..., "Status": "ACTIVE"|"INACTIVE"}`, Err: err}
	}
	return req, nil
}

func roleParam(r *http.Request) (keystore.Role, error) {
	switch v := r.URL.Query().Get("role"); strings.ToLower(v) {
	case RoleKSK:
		return keystore.KSK, nil
	case RoleZSK:
		return keystore.ZSK, nil
	default:
		return 0, &keymgr.Error{Code: keymgr.CodeInvalidArgument, Message: "role=" + strconv.Quote(v) + ": want ksk or zsk"}
	}
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &keymgr.Error{Code: keymgr.CodeInvalidArgument, Message: name + "=" + strconv.Quote(v) + " is not a boolean"}
	}
	return b, nil
}

// handle runs op, then answers with the zone's GetDNSSEC, or with the error.
func (a *dnssecAPI) handle(op func(r *http.Request, zone string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		zone := r.PathValue("zone")
		if err := op(r, zone); err != nil {
			writeManagerError(w, a.log, err)
			return
		}
		out, err := a.m.GetDNSSEC(r.Context(), zone)
		if err != nil {
			writeManagerError(w, a.log, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// DefaultPlanHorizon is how far ahead the plan looks when the call does not say (for=).
const DefaultPlanHorizon = 400 * 24 * time.Hour

// forecast is GET /v1/zones/{zone}/dnssec/plan?for=400d[&format=svg]: the forecast as JSON,
// or its timeline picture.
func (a *dnssecAPI) forecast(w http.ResponseWriter, r *http.Request) {
	horizon := DefaultPlanHorizon
	if v := r.URL.Query().Get("for"); v != "" {
		d, err := forecast.ParseDuration(v)
		if err != nil {
			writeManagerError(w, a.log, &keymgr.Error{Code: keymgr.CodeInvalidArgument, Message: "for=" + strconv.Quote(v) + ": " + err.Error()})
			return
		}
		horizon = d
	}
	f, err := a.m.Forecast(r.PathValue("zone"), horizon)
	if err != nil {
		writeManagerError(w, a.log, err)
		return
	}
	switch format := r.URL.Query().Get("format"); format {
	case "", "json":
		writeJSON(w, http.StatusOK, f)
	case "svg":
		var b bytes.Buffer
		if err := f.SVG(&b); err != nil {
			writeManagerError(w, a.log, err)
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write(b.Bytes())
	default:
		writeManagerError(w, a.log, &keymgr.Error{Code: keymgr.CodeInvalidArgument, Message: "format=" + strconv.Quote(format) + ": want json or svg"})
	}
}
