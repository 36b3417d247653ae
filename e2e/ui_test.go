package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signetdns/signet/admin"
)

const uiToken = "e2e-ui-token"

// chromium runs Debian's headless Chromium with args and the URL, in a profile of its own,
// and returns its standard output.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (scripts/install-test-deps.sh installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	full := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=10000"}, args...)
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

func getReady(t *testing.T, s *signet) (int, admin.Readiness) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Admin+"/readyz", nil)
	req.Header.Set("Authorization", "Bearer "+uiToken)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body admin.Readiness
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("/readyz body: %v", err)
	}
	return resp.StatusCode, body
}

// TestStatusPage loads the status page in a real headless Chromium, the token in the URL
// fragment: the rendered DOM holds each zone's DS record exactly as `signet ds` prints it,
// the zone's signing status and ZSK, and the rollover picture; a screenshot is a real
// picture. Without the token the page says how to pass it. /readyz is 200 with every zone
// loaded and signing.
func TestStatusPage(t *testing.T) {
	t.Parallel()
	s := startSignet(t, "", "--admin-token", uiToken, "--dnssec",
		"--zone", "example.test.=../testdata/example.test.zone",
		"--zone", "signed.example.test.=../testdata/signed.example.test.zone")
	if code, body := getReady(t, s); code != http.StatusOK || !body.Ready || len(body.Zones) != 2 {
		t.Fatalf("/readyz: %d %v, want 200 and Ready", code, body)
	}

	url := "http://" + s.Admin + "/ui/#token=" + uiToken
	dom := string(chromium(t, "--dump-dom", url))
	norm := strings.Join(strings.Fields(dom), " ")
	for _, zone := range []string{"example.test.", "signed.example.test."} {
		ds := strings.Join(strings.Fields(s.run(t, "ds", zone, "--format", "zone", "--admin-token", uiToken)), " ")
		if ds == "" || !strings.Contains(norm, ds) {
			t.Errorf("the rendered page lacks %s's DS record %q", zone, ds)
		}
	}
	for _, want := range []string{"SIGNING", "Zone-signing keys", "rollover plan", "DS at the parent", "Nothing needs action.", `data-loaded="true"`, ">ready<"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if strings.Contains(dom, "Loading…") {
		t.Error("the page never finished loading")
	}

	shot := filepath.Join(t.TempDir(), "ui.png")
	chromium(t, "--window-size=1280,1600", "--screenshot="+shot, url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is no PNG: %v", err)
	}
	if colours := distinctColours(img); img.Bounds().Dx() < 1000 || colours < 50 {
		t.Errorf("the screenshot is %v with %d colours: an empty page?", img.Bounds(), colours)
	}

	noToken := string(chromium(t, "--dump-dom", "http://"+s.Admin+"/ui/"))
	if !strings.Contains(noToken, "/ui/#token=") || strings.Contains(noToken, "IN DS") {
		t.Errorf("without the token the page should show no data and say how to pass it")
	}
}

func distinctColours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

// TestReadyzNotReady: a zone whose file does not load makes /readyz 503 and names it.
func TestReadyzNotReady(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.test.zone")
	if err := os.WriteFile(bad, []byte("$ORIGIN bad.test.\n@ 60 SOA ns host 1 2 3 4 5\n@ 60 NS ns\nns 60 A 999.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSignet(t, "", "--admin-token", uiToken, "--zone", "example.test.=../testdata/example.test.zone", "--zone", "bad.test.="+bad)
	code, body := getReady(t, s)
	if code != http.StatusServiceUnavailable || body.Ready || len(body.Zones) != 2 {
		t.Fatalf("/readyz with a zone not loaded: %d %+v, want 503", code, body)
	}
	if z := body.Zones[0]; !z.Loaded || z.Reason != "" {
		t.Errorf("example.test. is loaded, but /readyz says %+v", z)
	}
	if z := body.Zones[1]; z.Zone != "bad.test." || z.Loaded || !strings.Contains(z.Reason, "bad.test.zone:4") {
		t.Errorf("/readyz does not name bad.test. and its error: %+v", z)
	}
}
