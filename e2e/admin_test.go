package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/admin"
)

// cli runs the signet CLI in dir (so that no ./state is found by accident) and returns its
// stdout and stderr apart.
func cli(t *testing.T, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, signetBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SIGNET_ADMIN_TOKEN=", "SIGNET_ADMIN_ADDR=")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// onlyDS checks that out is DS records in zone-file form and nothing else.
func onlyDS(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil || rr == nil || rr.Header().Rrtype != dns.TypeDS {
			t.Fatalf("not a DS record: %q (output %q)", l, out)
		}
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestAdminOutOfTheBox: the CLI reaches a server started with a state directory through its
// control socket, or through the TCP listener with the token the server generated there or
// one given on the command line; `signet ds ZONE --format zone --state DIR` prints only DS
// records. The TCP listener refuses a web page's requests (Origin, text/plain, a foreign Host)
// and callers without the token, and they change nothing: the zone stays signed.
func TestAdminOutOfTheBox(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := copyZone(t, dir, "example.test.zone")
	s := startSignet(t, "", "--dnssec", "--zone", "example.test.="+zone)
	elsewhere := t.TempDir()

	if m := mode(t, s.State); m != 0o700 {
		t.Errorf("state directory mode %04o, want 0700", m)
	}
	if m := mode(t, filepath.Join(s.State, admin.SocketFile)); m != 0o600 {
		t.Errorf("control socket mode %04o, want 0600", m)
	}
	if m := mode(t, filepath.Join(s.State, admin.TokenFile)); m != 0o600 {
		t.Errorf("token file mode %04o, want 0600", m)
	}
	tok, err := admin.ReadToken(filepath.Join(s.State, admin.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.log.String(), tok) {
		t.Error("the server logged its admin token")
	}

	viaSocket, stderr, err := cli(t, elsewhere, "ds", "example.test.", "--format", "zone", "--state", s.State)
	if err != nil || stderr != "" {
		t.Fatalf("ds --state: %v, stderr %q", err, stderr)
	}
	onlyDS(t, viaSocket)
	for _, args := range [][]string{
		{"--admin", s.Admin, "--state", s.State},   // TCP, the token from the state directory
		{"--admin", s.Admin, "--admin-token", tok}, // TCP, the token given
	} {
		out, stderr, err := cli(t, elsewhere, append([]string{"ds", "example.test.", "--format", "zone"}, args...)...)
		if err != nil || out != viaSocket {
			t.Errorf("ds %v: %v, %q (stderr %q), want %q", args, err, out, stderr, viaSocket)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--admin", s.Admin}, "no token"},
		{[]string{"--admin", s.Admin, "--admin-token", "wrong"}, "AccessDenied"},
		{[]string{}, "no control socket"}, // ./state of elsewhere holds no server
	} {
		_, stderr, err := cli(t, elsewhere, append([]string{"dnssec", "status", "example.test."}, tc.args...)...)
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("dnssec status %v: %v, stderr %q, want an error saying %q", tc.args, err, stderr, tc.want)
		}
	}

	_, port, _ := net.SplitHostPort(s.Admin)
	disable := "http://" + s.Admin + admin.ZonePath("example.test.", "disable") + "?force=true"
	for _, tc := range []struct {
		name, method, url string
		hdr               map[string]string
		want              int
	}{
		{"cross-site simple request", "POST", disable, map[string]string{"Origin": "https://evil.example", "Content-Type": "text/plain"}, http.StatusForbidden},
		{"text/plain with the token", "POST", disable, map[string]string{"Content-Type": "text/plain", "Authorization": "Bearer " + tok}, http.StatusUnsupportedMediaType},
		{"DNS rebinding", "GET", "http://" + s.Admin + admin.ZonePath("example.test."), map[string]string{"Host": "rebind.evil.example:" + port}, http.StatusForbidden},
		{"local process without the token", "POST", disable, nil, http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(""))
		for k, v := range tc.hdr {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: HTTP %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	out, stderr, err := cli(t, elsewhere, "dnssec", "status", "example.test.", "--state", s.State)
	if err != nil || !strings.Contains(out, "zone example.test.: SIGNING") {
		t.Fatalf("after the refused requests: %v %q %q", err, out, stderr)
	}
	r := s.query(t, "www.example.test.", dns.TypeA, true)
	if len(r.Answer) < 2 {
		t.Fatalf("after the refused requests www.example.test. is not signed: %v", r)
	}
}

// TestAdminConfiguredToken: with admin.token set, the TCP listener takes that token (and none
// is generated), while the CLI still finds the server through --state.
func TestAdminConfiguredToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	zone := copyZone(t, dir, "example.test.zone")
	s := startSignet(t, "", "--dnssec", "--zone", "example.test.="+zone, "--admin-token", "configured-token")
	if _, err := os.Stat(filepath.Join(s.State, admin.TokenFile)); !os.IsNotExist(err) {
		t.Errorf("a token file was generated beside a configured token: %v", err)
	}
	elsewhere := t.TempDir()
	viaSocket, _, err := cli(t, elsewhere, "ds", "example.test.", "--format", "zone", "--state", s.State)
	if err != nil {
		t.Fatal(err)
	}
	onlyDS(t, viaSocket)
	out, stderr, err := cli(t, elsewhere, "ds", "example.test.", "--format", "zone", "--admin", s.Admin, "--admin-token", "configured-token")
	if err != nil || out != viaSocket {
		t.Fatalf("--admin-token: %v %q %q", err, out, stderr)
	}
}
