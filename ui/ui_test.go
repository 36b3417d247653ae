package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler: the page and its script are served under the prefix with a policy that keeps
// them to their own origin, and nothing outside the embedded files is reachable.
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler("/ui/"))
	defer srv.Close()
	for path, want := range map[string]string{"/ui/": "<title>Signet status</title>", "/ui/app.js": "Authorization", "/ui/style.css": ".zone"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		buf := make([]byte, 64<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(b.String(), want) {
			t.Errorf("GET %s: %s, body lacks %q", path, resp.Status, want)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
	}
	resp, err := http.Get(srv.URL + "/ui/../ui.go")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("a file outside the page is served")
	}
	// No script or style in the page itself: the policy forbids inline code.
	page, _ := static.ReadFile("static/index.html")
	if strings.Contains(string(page), "<script>") || strings.Contains(string(page), "<style>") || strings.Contains(string(page), "http") {
		t.Error("index.html has inline code or an outside reference")
	}
}
