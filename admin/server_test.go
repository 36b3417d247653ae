package admin

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/admin/internal/admintest"
	"github.com/signetdns/signet/keymgr"
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
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return a
}

// call sends one request to the real listener; hdr are extra headers ("Host" sets the Host).
func call(t *testing.T, hc *http.Client, method, url, body string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	reloads := 0
	a := startAdmin(t, Config{Addr: "127.0.0.1:0", Token: "tok", Reload: func() error { reloads++; return nil }})
	base := "http://" + a.Addr().String()
	hc := http.DefaultClient
	if code, body := call(t, hc, "GET", base+"/healthz", "", nil); code != 200 || body != "ok\n" {
		t.Fatalf("healthz %d %q", code, body)
	}
	if code, body := call(t, hc, "GET", base+"/metrics", "", nil); code != 200 || !strings.Contains(body, "signet_test_total 1") {
		t.Fatalf("metrics %d", code)
	}
	if code, _ := call(t, hc, "POST", base+"/v1/reload", "", bearer("tok")); code != 200 || reloads != 1 {
		t.Fatalf("reload %d, reloads %d", code, reloads)
	}
	if code, _ := call(t, hc, "GET", base+"/v1/reload", "", bearer("tok")); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET reload: %d", code)
	}
}

// TestAdminToken: on a loopback listener, liveness and metrics are open; everything else needs
// the token.
func TestAdminToken(t *testing.T) {
	t.Parallel()
	reloads := 0
	a := startAdmin(t, Config{Addr: "127.0.0.1:0", Token: "s3cret", Reload: func() error { reloads++; return nil }})
	base := "http://" + a.Addr().String()
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/healthz", "", http.StatusOK},
		{"GET", "/metrics", "", http.StatusOK},
		{"GET", "/debug/pprof/", "", http.StatusUnauthorized},
		{"GET", "/debug/pprof/", "wrong", http.StatusUnauthorized},
		{"GET", "/debug/pprof/", "s3cret", http.StatusOK},
		{"POST", "/v1/reload", "", http.StatusUnauthorized},
		{"POST", "/v1/reload", "s3cre", http.StatusUnauthorized},
		{"POST", "/v1/reload", "s3cret", http.StatusOK},
	} {
		code, body := call(t, http.DefaultClient, tc.method, base+tc.path, "", bearer(tc.token))
		if code != tc.want {
			t.Errorf("%s %s with token %q: %d, want %d (%s)", tc.method, tc.path, tc.token, code, tc.want, body)
		} else if code == http.StatusUnauthorized && !strings.Contains(body, CodeAccessDenied) {
			t.Errorf("401 body %q lacks the error code", body)
		}
	}
	if reloads != 1 {
		t.Errorf("%d reloads, want 1 (only the one with the token)", reloads)
	}
}

// TestAdminNeedsToken: a TCP listener without a token is refused at start, on loopback too.
func TestAdminNeedsToken(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"127.0.0.1:0", "0.0.0.0:0"} {
		if _, err := New(Config{Addr: addr, Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "token") {
			t.Fatalf("%s: got %v, want a refusal naming the token", addr, err)
		}
	}
	a, err := New(Config{Addr: "0.0.0.0:0", Token: "x", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	a.Shutdown(context.Background())
}

// signingZone is a real key manager whose zone is signed with an ACTIVE KSK, which the hostile
// requests below try to disable.
func signingZone(t *testing.T) *keymgr.Manager {
	t.Helper()
	m := admintest.NewManager(t)
	ctx := context.Background()
	if err := m.CreateKSK(ctx, testZone, "ksk1", keymgr.StatusActive); err != nil {
		t.Fatal(err)
	}
	if err := m.Enable(ctx, testZone); err != nil {
		t.Fatal(err)
	}
	return m
}

func serveSignature(t *testing.T, m *keymgr.Manager) string {
	t.Helper()
	d, err := m.GetDNSSEC(context.Background(), testZone)
	if err != nil {
		t.Fatal(err)
	}
	return d.Status.ServeSignature
}

// TestHostileRequests sends, to the real TCP listener, the requests a web page in the
// operator's browser can make (a cross-site "simple request", a DNS-rebound page) and a local
// process without the token: each is refused with the status named, and the zone stays signed.
func TestHostileRequests(t *testing.T) {
	t.Parallel()
	m := signingZone(t)
	reloads := 0
	a := startAdmin(t, Config{Addr: "127.0.0.1:0", Token: "tok", Manager: m, Reload: func() error { reloads++; return nil }})
	addr := a.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	disable := "http://" + addr + ZonePath(testZone, "disable") + "?force=true"
	del := "http://" + addr + ZonePath(testZone, "ksks", "ksk1")
	get := "http://" + addr + ZonePath(testZone)
	for _, tc := range []struct {
		name, method, url, body string
		hdr                     map[string]string
		want                    int
	}{
		{"CSRF: Origin and text/plain, no token", "POST", disable, "", map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"CSRF: Origin even with the token and JSON", "POST", disable, "{}", map[string]string{"Origin": "https://evil.example", "Content-Type": "application/json", "Authorization": "Bearer tok"}, http.StatusForbidden},
		{"Origin null (sandboxed page)", "POST", disable, "", map[string]string{"Origin": "null", "Authorization": "Bearer tok"}, http.StatusForbidden},
		{"Sec-Fetch-Site cross-site", "DELETE", del, "", map[string]string{"Sec-Fetch-Site": "cross-site", "Authorization": "Bearer tok"}, http.StatusForbidden},
		{"Sec-Fetch-Site cross-site read", "GET", get, "", map[string]string{"Sec-Fetch-Site": "cross-site", "Authorization": "Bearer tok"}, http.StatusForbidden},
		{"same-origin page writes (the status page only reads)", "POST", disable, "", map[string]string{"Sec-Fetch-Site": "same-origin", "Authorization": "Bearer tok"}, http.StatusForbidden},
		{"same-origin page deletes", "DELETE", del, "", map[string]string{"Sec-Fetch-Site": "same-origin", "Authorization": "Bearer tok"}, http.StatusForbidden},
		{"same-origin read without the token", "GET", get, "", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusUnauthorized},
		{"a path under /ui/ is no way around the token", "POST", "http://" + addr + "/ui/../v1/reload", "", nil, http.StatusUnauthorized},
		{"text/plain body with the token", "POST", disable, "x", map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer tok"}, http.StatusUnsupportedMediaType},
		{"form body with the token", "POST", disable, "a=b", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Bearer tok"}, http.StatusUnsupportedMediaType},
		{"body without Content-Type", "POST", disable, "x", map[string]string{"Authorization": "Bearer tok"}, http.StatusUnsupportedMediaType},
		{"rebinding: foreign Host reads", "GET", get, "", map[string]string{"Host": "rebind.evil.example:" + port, "Authorization": "Bearer tok"}, http.StatusForbidden},
		{"rebinding: foreign Host writes", "POST", disable, "", map[string]string{"Host": "rebind.evil.example:" + port, "Authorization": "Bearer tok"}, http.StatusForbidden},
		{"own address, other port", "POST", disable, "", map[string]string{"Host": "127.0.0.1:1", "Authorization": "Bearer tok"}, http.StatusForbidden},
		{"no token", "POST", disable, "", nil, http.StatusUnauthorized},
		{"no token, JSON", "DELETE", del, "", map[string]string{"Content-Type": "application/json"}, http.StatusUnauthorized},
		{"no token, reload", "POST", "http://" + addr + ReloadPath, "", nil, http.StatusUnauthorized},
		{"wrong token", "POST", disable, "", map[string]string{"Authorization": "Bearer tok2"}, http.StatusUnauthorized},
	} {
		code, body := call(t, http.DefaultClient, tc.method, tc.url, tc.body, tc.hdr)
		if code != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, code, tc.want, body)
		}
		if s := serveSignature(t, m); s != keymgr.StatusSigning {
			t.Fatalf("%s changed the zone: %s", tc.name, s)
		}
	}
	if reloads != 0 {
		t.Errorf("%d reloads by refused requests", reloads)
	}
	// The same listener serves the token holder, by its address and by "localhost".
	for _, host := range []string{addr, "localhost:" + port, "[::1]:" + port} {
		if code, body := call(t, http.DefaultClient, "GET", get, "", map[string]string{"Host": host, "Authorization": "Bearer tok"}); code != http.StatusOK {
			t.Errorf("GET with Host %s: %d %s", host, code, body)
		}
	}
	if code, body := call(t, http.DefaultClient, "POST", disable, "", bearer("tok")); code != http.StatusOK || !strings.Contains(body, keymgr.StatusNotSigning) {
		t.Fatalf("disable with the token: %d %s", code, body)
	}
}

func TestHostChecker(t *testing.T) {
	t.Parallel()
	lo := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8053}
	any4 := &net.TCPAddr{IP: net.IPv4zero, Port: 8053}
	one := &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 8053}
	for _, tc := range []struct {
		la    *net.TCPAddr
		extra []string
		host  string
		want  bool
	}{
		{lo, nil, "127.0.0.1:8053", true},
		{lo, nil, "localhost:8053", true},
		{lo, nil, "LOCALHOST.:8053", true},
		{lo, nil, "[::1]:8053", true},
		{lo, nil, "127.0.0.2:8053", true},
		{lo, nil, "127.0.0.1:8054", false},
		{lo, nil, "127.0.0.1", false},
		{lo, nil, "evil.example:8053", false},
		{lo, nil, "127.0.0.1.nip.io:8053", false},
		{lo, nil, "", false},
		{any4, nil, "198.51.100.1:8053", true},
		{any4, nil, "localhost:8053", true},
		{any4, nil, "ns1.example.com:8053", false},
		{any4, []string{"ns1.example.com"}, "NS1.example.com:8053", true},
		{any4, []string{"ns1.example.com:8053"}, "ns1.example.com:8053", true},
		{one, nil, "192.0.2.7:8053", true},
		{one, nil, "192.0.2.8:8053", false},
		{one, nil, "localhost:8053", false},
		{one, nil, "127.0.0.1:8053", false},
	} {
		if got := hostChecker(tc.la, tc.extra)(tc.host); got != tc.want {
			t.Errorf("listener %s (extra %v), Host %q: %v, want %v", tc.la, tc.extra, tc.host, got, tc.want)
		}
	}
}

// unixClient talks HTTP over the control socket.
func unixClient(path string) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
}

// TestControlSocket: the socket is 0600, serves the API without a token, still refuses web
// requests, replaces a stale socket file and refuses to start beside a live server.
func TestControlSocket(t *testing.T) {
	t.Parallel()
	m := signingZone(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, SocketFile)
	// A socket file left by a crashed server.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	a := startAdmin(t, Config{Socket: sock, Manager: m})
	if a.Socket() != sock || a.Addr() != nil {
		t.Fatalf("socket %q addr %v", a.Socket(), a.Addr())
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi.Mode(), err)
	}
	hc := unixClient(sock)
	get := "http://localhost" + ZonePath(testZone)
	if code, body := call(t, hc, "GET", get, "", nil); code != http.StatusOK {
		t.Fatalf("GET over the socket: %d %s", code, body)
	}
	disable := "http://localhost" + ZonePath(testZone, "disable") + "?force=true"
	if code, _ := call(t, hc, "POST", disable, "", map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}); code != http.StatusForbidden {
		t.Fatalf("Origin over the socket: %d", code)
	}
	if code, _ := call(t, hc, "POST", disable, "x", map[string]string{"Content-Type": "text/plain"}); code != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain over the socket: %d", code)
	}
	if s := serveSignature(t, m); s != keymgr.StatusSigning {
		t.Fatalf("refused requests changed the zone: %s", s)
	}
	if _, err := New(Config{Socket: sock, Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), "another server") {
		t.Fatalf("second server on the socket: %v", err)
	}
	long := filepath.Join(dir, strings.Repeat("d", 120), SocketFile)
	if _, err := New(Config{Socket: long, Logger: quietLogger()}); err == nil || !strings.Contains(err.Error(), strconv.Itoa(len(long))+" bytes") {
		t.Fatalf("overlong socket path: %v", err)
	}
	a.Shutdown(context.Background())
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("socket file left after shutdown: %v", err)
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tok, err := LoadOrCreateToken(dir)
	if err != nil || len(tok) < 40 {
		t.Fatalf("token %q, %v", tok, err)
	}
	path := filepath.Join(dir, TokenFile)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi.Mode(), err)
	}
	again, err := LoadOrCreateToken(dir)
	if err != nil || again != tok {
		t.Fatalf("second load: %q %v, want the same token", again, err)
	}
	if other, _ := LoadOrCreateToken(t.TempDir()); other == tok {
		t.Fatal("two state directories got the same token")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(dir); err == nil || !strings.Contains(err.Error(), "0644") || strings.Contains(err.Error(), tok) {
		t.Fatalf("readable token file: %v", err)
	}
}
