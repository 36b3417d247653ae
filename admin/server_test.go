package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func startAdmin(t *testing.T, cfg Config) *Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "signet_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Inc()
	cfg.Gatherer, cfg.Logger = reg, quietLogger()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	t.Cleanup(func() { a.Shutdown(t.Context()) })
	return a
}

func get(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}

func TestAdminEndpoints(t *testing.T) {
	reloads := 0
	a := startAdmin(t, Config{Addr: "127.0.0.1:0", Reload: func() error { reloads++; return nil }})
	base := "http://" + a.Addr().String()
	if code, body := get(t, "GET", base+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Fatalf("healthz %d %q", code, body)
	}
	if code, body := get(t, "GET", base+"/metrics", ""); code != 200 || !strings.Contains(body, "signet_test_total 1") {
		t.Fatalf("metrics %d", code)
	}
	if code, _ := get(t, "POST", base+"/v1/reload", ""); code != 200 || reloads != 1 {
		t.Fatalf("reload %d, reloads %d", code, reloads)
	}
	if code, _ := get(t, "GET", base+"/v1/reload", ""); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET reload: %d", code)
	}
}

func TestAdminToken(t *testing.T) {
	a := startAdmin(t, Config{Addr: "127.0.0.1:0", Token: "s3cret", Reload: func() error { return nil }})
	base := "http://" + a.Addr().String()
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/metrics", "", http.StatusUnauthorized},
		{"/metrics", "wrong", http.StatusUnauthorized},
		{"/metrics", "s3cret", http.StatusOK},
		{"/healthz", "", http.StatusOK}, // liveness probes carry no secrets
	} {
		if code, body := get(t, "GET", base+tc.path, tc.token); code != tc.want {
			t.Errorf("%s with token %q: %d, want %d (%s)", tc.path, tc.token, code, tc.want, body)
		} else if code == http.StatusUnauthorized && !strings.Contains(body, "AccessDenied") {
			t.Errorf("401 body %q lacks the error code", body)
		}
	}
}

// TestAdminBeyondLoopbackNeedsToken: binding the admin API to a non-loopback address without
// a token is refused at start.
func TestAdminBeyondLoopbackNeedsToken(t *testing.T) {
	_, err := New(Config{Addr: "0.0.0.0:0", Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("got %v, want a refusal naming the token", err)
	}
	a, err := New(Config{Addr: "0.0.0.0:0", Token: "x", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	a.ln.Close()
}
