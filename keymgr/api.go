package keymgr

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/signetdns/signet/keystore"
)

// Register adds the admin API to mux, shaped after Route 53's DNSSEC calls:
//
//	GET    /v1/zones/{zone}/dnssec                        GetDNSSEC
//	POST   /v1/zones/{zone}/dnssec/enable                 EnableHostedZoneDNSSEC
//	POST   /v1/zones/{zone}/dnssec/disable[?force=true]   DisableHostedZoneDNSSEC
//	POST   /v1/zones/{zone}/dnssec/ksks                   CreateKeySigningKey {"Name","Status"}
//	POST   /v1/zones/{zone}/dnssec/ksks/{name}/activate   ActivateKeySigningKey
//	POST   /v1/zones/{zone}/dnssec/ksks/{name}/deactivate DeactivateKeySigningKey
//	DELETE /v1/zones/{zone}/dnssec/ksks/{name}            DeleteKeySigningKey
//	POST   /v1/zones/{zone}/dnssec/ksks/{name}/ds-seen    ConfirmDS: the parent shows the new DS
//	POST   /v1/zones/{zone}/dnssec/rollover?role=ksk|zsk&now=true   Rollover, started now
//
// Successful calls answer 200 with the zone's GetDNSSEC; failures answer Route 53's HTTP
// status with {"Error":{"Code","Message"}}. Authentication is the caller's (the server wraps
// the mux with its bearer-token check).
func (m *Manager) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/zones/{zone}/dnssec", m.handle(func(r *http.Request, zone string) error { return nil }))
	mux.HandleFunc("GET /v1/zones/{zone}/dnssec/plan", m.handleForecast)
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/enable", m.handle(func(r *http.Request, zone string) error {
		return m.Enable(r.Context(), zone)
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/disable", m.handle(func(r *http.Request, zone string) error {
		force, err := boolParam(r, "force")
		if err != nil {
			return err
		}
		return m.Disable(r.Context(), zone, force)
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/ksks", m.handle(func(r *http.Request, zone string) error {
		var req struct{ Name, Status string }
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return &Error{Code: CodeInvalidInput, Message: "request body: want {\"Name\": ..., \"Status\": \"ACTIVE\"|\"INACTIVE\"}", Err: err}
		}
		return m.CreateKSK(r.Context(), zone, req.Name, req.Status)
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/ksks/{name}/activate", m.handle(func(r *http.Request, zone string) error {
		return m.ActivateKSK(r.Context(), zone, r.PathValue("name"))
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/ksks/{name}/deactivate", m.handle(func(r *http.Request, zone string) error {
		return m.DeactivateKSK(r.Context(), zone, r.PathValue("name"))
	}))
	mux.HandleFunc("DELETE /v1/zones/{zone}/dnssec/ksks/{name}", m.handle(func(r *http.Request, zone string) error {
		return m.DeleteKSK(r.Context(), zone, r.PathValue("name"))
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/ksks/{name}/ds-seen", m.handle(func(r *http.Request, zone string) error {
		return m.ConfirmDS(r.Context(), zone, r.PathValue("name"))
	}))
	mux.HandleFunc("POST /v1/zones/{zone}/dnssec/rollover", m.handle(func(r *http.Request, zone string) error {
		var role keystore.Role
		switch v := r.URL.Query().Get("role"); strings.ToLower(v) {
		case "ksk":
			role = keystore.KSK
		case "zsk":
			role = keystore.ZSK
		default:
			return errorf(CodeInvalidArgument, "role=%q: want ksk or zsk", v)
		}
		now, err := boolParam(r, "now")
		if err != nil {
			return err
		}
		if !now {
			// Scheduled rollovers follow the key lifetimes; only an immediate one is asked for.
			return errorf(CodeInvalidArgument, "only an immediate rollover can be requested: add now=true")
		}
		return m.Rollover(r.Context(), zone, role)
	}))
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errorf(CodeInvalidArgument, "%s=%q is not a boolean", name, v)
	}
	return b, nil
}

// handle runs op, then answers with the zone's GetDNSSEC, or with the error.
func (m *Manager) handle(op func(r *http.Request, zone string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		zone := r.PathValue("zone")
		if err := op(r, zone); err != nil {
			m.writeError(w, err)
			return
		}
		out, err := m.GetDNSSEC(r.Context(), zone)
		if err != nil {
			m.writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, out)
	}
}

func (m *Manager) writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		// Not a refusal a client can act on: log it here, answer without details.
		m.log.Error("admin API", "err", err)
		e = &Error{Code: CodeInternalFailure, Message: "internal failure; see the server log"}
	}
	var body struct {
		Error struct {
			Code    string `json:"Code"`
			Message string `json:"Message"`
		} `json:"Error"`
	}
	body.Error.Code, body.Error.Message = e.Code, e.Message
	writeJSON(w, e.HTTPStatus(), body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
