package admin

import (
	"context"
	"crypto/subtle"
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

// DefaultAddr is the admin listener's address when Config.Addr is empty.
const DefaultAddr = "127.0.0.1:8053"

// Config configures the admin listener.
type Config struct {
	// Addr is host:port; default DefaultAddr.
	Addr string
	// Token, when set, is required as "Authorization: Bearer <token>" on every endpoint but
	// /healthz. It is mandatory when Addr is not a loopback address.
	Token string
	// Gatherer is served on /metrics.
	Gatherer prometheus.Gatherer
	// Reload re-reads every zone file (POST /v1/reload).
	Reload func() error
	// Zones reports every zone's load state (GET /v1/zones); nil leaves the call out.
	Zones func() []ZoneStatus
	// Manager serves the DNSSEC calls; nil leaves them out.
	Manager Manager
	// Ready computes the readiness probe (GET /readyz); nil leaves it out.
	Ready func() Readiness
	// UI serves the status page under UIPath; nil leaves it out.
	UI http.Handler
	// Logger receives the listener's errors; nil means slog.Default().
	Logger *slog.Logger
}

// Server is the admin HTTP server: /metrics, /healthz, POST /v1/reload, the DNSSEC calls and
// profiles.
type Server struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// New binds the admin listener.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen %s: %w", cfg.Addr, err)
	}
	if !isLoopback(ln.Addr()) && cfg.Token == "" {
		ln.Close()
		return nil, fmt.Errorf("admin listener %s is not loopback: set admin.token (SIGNET_ADMIN_TOKEN)", cfg.Addr)
	}
	s := &Server{ln: ln, log: cfg.Logger}
	s.srv = &http.Server{Handler: withToken(cfg.Token, newMux(cfg)), ReadHeaderTimeout: 5 * time.Second}
	return s, nil
}

// newMux routes every endpoint of the admin API.
func newMux(cfg Config) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	if cfg.Gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	// Profiles are how a slow server gets explained; they are behind the same protection as
	// everything else here.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	if cfg.Reload != nil {
		mux.HandleFunc("POST "+ReloadPath, func(w http.ResponseWriter, r *http.Request) {
			if err := cfg.Reload(); err != nil {
				writeError(w, http.StatusUnprocessableEntity, CodeInvalidZoneFile, err.Error())
				return
			}
			writeJSON(w, http.StatusOK, ReloadResponse{Status: "reloaded"})
		})
	}
	if cfg.Zones != nil {
		mux.HandleFunc("GET "+ZonesPath, func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, http.StatusOK, ZonesResponse{Zones: cfg.Zones()})
		})
	}
	if cfg.Manager != nil {
		registerDNSSEC(mux, cfg.Manager, cfg.Logger)
	}
	if cfg.Ready != nil {
		registerReady(mux, cfg.Ready)
	}
	if cfg.UI != nil {
		mux.Handle("GET "+UIPath, cfg.UI)
		mux.Handle("GET /ui", http.RedirectHandler(UIPath, http.StatusMovedPermanently))
	}
	return mux
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until Shutdown.
func (s *Server) Serve() {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("admin server stopped", "err", err)
	}
}

// Shutdown stops the admin server.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// UIPath is where the status page is served. Its files hold no data and are served without
// the token (the page sends the token, from its URL fragment, with its data calls).
const UIPath = "/ui/"

func withToken(token string, next http.Handler) http.Handler {
	if token == "" {
		return next
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		open := r.URL.Path == "/healthz" || r.Method == http.MethodGet && (r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, UIPath))
		if !open && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, http.StatusUnauthorized, CodeAccessDenied, "missing or wrong bearer token")
			return
		}
		next.ServeHTTP(w, r)
	})
}
