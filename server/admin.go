package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminConfig configures the admin HTTP listener.
type AdminConfig struct {
	// Addr is host:port; default 127.0.0.1:8053.
	Addr string
	// Token, when set, is required as "Authorization: Bearer <token>" on every endpoint but
	// /healthz. It is mandatory when Addr is not a loopback address.
	Token string
}

// Admin is the admin HTTP server: /metrics, /healthz, POST /v1/reload, and whatever the DNSSEC
// API registers on Mux.
type Admin struct {
	Mux *http.ServeMux
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// NewAdmin binds the admin listener. reload re-reads the zone files.
func NewAdmin(cfg AdminConfig, gatherer prometheus.Gatherer, reload func() error, log *slog.Logger) (*Admin, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8053"
	}
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen %s: %w", cfg.Addr, err)
	}
	if !isLoopback(ln.Addr()) && cfg.Token == "" {
		ln.Close()
		return nil, fmt.Errorf("admin listener %s is not loopback: set admin.token (SIGNET_ADMIN_TOKEN)", cfg.Addr)
	}
	a := &Admin{Mux: http.NewServeMux(), ln: ln, log: log}
	a.Mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	a.Mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	// Profiles are how a slow server gets explained; the listener is loopback or
	// token-protected, like everything else here.
	a.Mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	a.Mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	a.Mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	a.Mux.HandleFunc("POST /v1/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := reload(); err != nil {
			WriteError(w, http.StatusUnprocessableEntity, "InvalidZoneFile", err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, map[string]string{"Status": "reloaded"})
	})
	a.srv = &http.Server{Handler: withToken(cfg.Token, a.Mux), ReadHeaderTimeout: 5 * time.Second}
	return a, nil
}

// Addr is the bound address.
func (a *Admin) Addr() net.Addr { return a.ln.Addr() }

// Serve serves until Shutdown.
func (a *Admin) Serve() {
	if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.log.Error("admin server stopped", "err", err)
	}
}

// Shutdown stops the admin server.
func (a *Admin) Shutdown(ctx context.Context) error { return a.srv.Shutdown(ctx) }

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

func withToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			WriteError(w, http.StatusUnauthorized, "AccessDenied", "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WriteJSON writes v as JSON with the status code.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// APIError is the JSON error body, named after Route 53's error codes.
type APIError struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

// WriteError writes an APIError.
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, map[string]APIError{"Error": {Code: code, Message: strings.TrimSpace(msg)}})
}
