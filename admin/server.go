package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/signetdns/signet/keymgr"
)

// DefaultAddr is the admin TCP listener's usual address.
const DefaultAddr = "127.0.0.1:8053"

// maxSocketPath is the longest path a Unix socket may have on Linux (sun_path is 108 bytes
// with the terminating NUL).
const maxSocketPath = 107

// Config configures the admin listeners.
type Config struct {
	// Addr is the TCP listener's host:port; empty: no TCP listener.
	Addr string
	// Token is the bearer token the TCP listener requires ("Authorization: Bearer <Token>")
	// on every path but /healthz, and /metrics when it listens on loopback. Required with Addr.
	Token string
	// Hosts are host names (besides the listener's own address and its loopback forms) that
	// requests to the TCP listener may name in their Host header, such as the name
	// Prometheus scrapes it by.
	Hosts []string
	// Socket is the control socket's path (mode 0600; put it in a 0700 directory); empty: no
	// socket. A stale socket file is replaced; one a live server answers on is an error.
	Socket string
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
	// Cluster reports the cluster's status (GET /v1/cluster, JSON); nil leaves it out.
	Cluster func(ctx context.Context) (any, error)
	// UI serves the read-only status page under UIPath; nil leaves it out.
	UI http.Handler
	// Logger receives the listeners' errors; nil means slog.Default().
	Logger *slog.Logger
}

// Server is the admin HTTP server on its TCP listener and its control socket: /metrics,
// /healthz, POST /v1/reload, the DNSSEC calls and profiles.
type Server struct {
	tcp, unix *http.Server
	tcpLn     net.Listener
	unixLn    net.Listener
	log       *slog.Logger
}

// New binds the admin listeners.
func New(cfg Config) (*Server, error) {
	if cfg.Addr == "" && cfg.Socket == "" {
		return nil, errors.New("admin: neither a TCP address nor a control socket")
	}
	if cfg.Addr != "" && cfg.Token == "" {
		return nil, fmt.Errorf("admin listener %s: no bearer token", cfg.Addr)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{log: cfg.Logger}
	mux := newMux(cfg)
	if cfg.Socket != "" {
		ln, err := listenSocket(cfg.Socket)
		if err != nil {
			return nil, err
		}
		s.unixLn = ln
		s.unix = newHTTPServer(&guard{next: mux})
	}
	if cfg.Addr != "" {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("admin listen %s: %w", cfg.Addr, err)
		}
		la := ln.Addr().(*net.TCPAddr)
		// Liveness, readiness and metrics are read-only and hold no secrets; on loopback they
		// stay open so that probes and a local Prometheus need no token.
		open := map[string]bool{"/healthz": true}
		if la.IP.IsLoopback() {
			open["/metrics"], open[ReadyPath] = true, true
		}
		s.tcpLn = ln
		s.tcp = newHTTPServer(&guard{next: mux, bearer: []byte("Bearer " + cfg.Token), open: open, hostOK: hostChecker(la, cfg.Hosts)})
	}
	return s, nil
}

func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, MaxHeaderBytes: 64 << 10}
}

// listenSocket binds the control socket at path, mode 0600.
func listenSocket(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("admin control socket %s: the path is %d bytes, over the %d a Unix socket allows (use a shorter state directory, or set admin.socket)", path, len(path), maxSocketPath)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("admin control socket %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin control socket %s: another server answers on it (is one already running with this state directory?)", path)
		}
		// Left by a server that did not shut down cleanly.
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin control socket %s: %w", path, err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin control socket: %w", err)
	}
	return ln, nil
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
	// Profiles are how a slow server gets explained; they need the token like the API.
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
	if cfg.Cluster != nil {
		mux.HandleFunc("GET "+ClusterPath, func(w http.ResponseWriter, r *http.Request) {
			st, err := cfg.Cluster(r.Context())
			if err != nil {
				writeError(w, http.StatusServiceUnavailable, keymgr.CodeServiceUnavailable, err.Error())
				return
			}
			writeJSON(w, http.StatusOK, st)
		})
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

// Addr is the TCP listener's bound address; nil without one.
func (s *Server) Addr() net.Addr {
	if s.tcpLn == nil {
		return nil
	}
	return s.tcpLn.Addr()
}

// Socket is the control socket's path; empty without one.
func (s *Server) Socket() string {
	if s.unixLn == nil {
		return ""
	}
	return s.unixLn.Addr().String()
}

// Serve serves both listeners until Shutdown.
func (s *Server) Serve() {
	var wg sync.WaitGroup
	serve := func(srv *http.Server, ln net.Listener) {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("admin server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}
	if s.tcp != nil {
		wg.Add(1)
		go serve(s.tcp, s.tcpLn)
	}
	if s.unix != nil {
		wg.Add(1)
		go serve(s.unix, s.unixLn)
	}
	wg.Wait()
}

// Shutdown stops both listeners (the control socket's file is removed).
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.tcp != nil {
		errs = append(errs, s.tcp.Shutdown(ctx))
	}
	if s.unix != nil {
		errs = append(errs, s.unix.Shutdown(ctx))
	}
	// Shutdown closes only listeners Serve had taken; these may not have been.
	s.close()
	return errors.Join(errs...)
}

// close releases the listeners of a Server that never served.
func (s *Server) close() {
	if s.tcpLn != nil {
		s.tcpLn.Close()
	}
	if s.unixLn != nil {
		s.unixLn.Close()
	}
}
