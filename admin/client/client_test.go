package client_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/admin/client"
	"github.com/signetdns/signet/admin/internal/admintest"
	"github.com/signetdns/signet/keymgr"
)

const zone = admintest.Zone

// startServer runs the real admin listener on loopback over a real key manager.
func startServer(t *testing.T, token string, reload func() error) string {
	t.Helper()
	s, err := admin.New(admin.Config{Addr: "127.0.0.1:0", Token: token, Gatherer: prometheus.NewRegistry(), Reload: reload,
		Manager: admintest.NewManager(t), Logger: admintest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s.Addr().String()
}

// TestClientLifecycle walks Route 53's KSK procedure through the typed client: every call
// answers the zone's state, and refusals come back as *client.Error with Route 53's code and
// HTTP status.
func TestClientLifecycle(t *testing.T) {
	t.Parallel()
	c := client.New(startServer(t, "tok", func() error { return nil }), "tok")
	ctx := context.Background()

	wantCode := func(err error, status int, code string) {
		t.Helper()
		var e *client.Error
		if !errors.As(err, &e) || e.Status != status || e.Code != code || e.Message == "" {
			t.Fatalf("got %v, want HTTP %d %s", err, status, code)
		}
	}
	_, err := c.Enable(ctx, zone)
	wantCode(err, http.StatusBadRequest, keymgr.CodeKeySigningKeyWithActiveStatusNotFound)
	d, err := c.CreateKSK(ctx, "EXAMPLE.test", admin.CreateKSKRequest{Name: "first", Status: keymgr.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if d.Zone != zone || len(d.KeySigningKeys) != 1 || d.KeySigningKeys[0].Name != "first" || d.KeySigningKeys[0].DSZoneFile == "" {
		t.Fatalf("after CreateKSK: %+v", d)
	}
	_, err = c.CreateKSK(ctx, zone, admin.CreateKSKRequest{Name: "first", Status: keymgr.StatusActive})
	wantCode(err, http.StatusConflict, keymgr.CodeKeySigningKeyAlreadyExists)
	if _, err := c.CreateKSK(ctx, zone, admin.CreateKSKRequest{Name: "second", Status: keymgr.StatusInactive}); err != nil {
		t.Fatal(err)
	}
	if d, err = c.Enable(ctx, zone); err != nil || d.Status.ServeSignature != keymgr.StatusSigning {
		t.Fatalf("Enable: %v %+v", err, d)
	}
	_, err = c.ActivateKSK(ctx, zone, "nosuch")
	wantCode(err, http.StatusNotFound, keymgr.CodeNoSuchKeySigningKey)
	_, err = c.DeactivateKSK(ctx, zone, "first")
	wantCode(err, http.StatusBadRequest, keymgr.CodeKeySigningKeyInUse)
	if d, err = c.DeleteKSK(ctx, zone, "second"); err != nil || len(d.KeySigningKeys) != 1 {
		t.Fatalf("DeleteKSK: %v %+v", err, d)
	}
	_, err = c.Rollover(ctx, zone, admin.RoleKSK)
	wantCode(err, http.StatusBadRequest, keymgr.CodeInvalidArgument)
	if _, err := c.Rollover(ctx, zone, admin.RoleZSK); err != nil {
		t.Fatal(err)
	}
	_, err = c.ConfirmDS(ctx, zone, "first")
	wantCode(err, http.StatusBadRequest, keymgr.CodeInvalidKeySigningKeyStatus)
	if d, err = c.Disable(ctx, zone, false); err != nil || d.Status.ServeSignature != keymgr.StatusNotSigning {
		t.Fatalf("Disable: %v %+v", err, d)
	}
	if f, err := c.Plan(ctx, zone, "30d"); err != nil || f.Zone != zone || f.Until.Sub(f.From) != 30*24*time.Hour {
		t.Fatalf("Plan: %v %+v", err, f)
	}
	_, err = c.Plan(ctx, zone, "forever")
	wantCode(err, http.StatusBadRequest, keymgr.CodeInvalidArgument)
	_, err = c.GetDNSSEC(ctx, "nosuch.test.")
	wantCode(err, http.StatusNotFound, keymgr.CodeNoSuchHostedZone)
}

// TestClientReload: a reload's failure is InvalidZoneFile with the loader's message.
func TestClientReload(t *testing.T) {
	t.Parallel()
	fail := errors.New("zone example.test.: example.test.zone:7: bad A")
	c := client.New(startServer(t, "tok", func() error { return fail }), "tok")
	_, err := c.Reload(context.Background())
	var e *client.Error
	if !errors.As(err, &e) || e.Code != admin.CodeInvalidZoneFile || e.Message != fail.Error() || e.Status != http.StatusUnprocessableEntity {
		t.Fatalf("got %v", err)
	}
}

// TestClientToken: a wrong token is AccessDenied, and the client says so.
func TestClientToken(t *testing.T) {
	t.Parallel()
	addr := startServer(t, "right", func() error { return nil })
	_, err := client.New(addr, "wrong").GetDNSSEC(context.Background(), zone)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != admin.CodeAccessDenied {
		t.Fatalf("got %v", err)
	}
	if _, err := client.New("http://"+addr+"/", "right").GetDNSSEC(context.Background(), zone); err != nil {
		t.Fatal(err)
	}
}

// TestClientSocket: the client reaches the control socket without a token, and says which
// socket it could not reach.
func TestClientSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), admin.SocketFile)
	s, err := admin.New(admin.Config{Socket: sock, Manager: admintest.NewManager(t), Logger: admintest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	d, err := client.NewUnix(sock).GetDNSSEC(context.Background(), zone)
	if err != nil || d.Zone != zone {
		t.Fatalf("GetDNSSEC over the socket: %v %+v", err, d)
	}
	gone := filepath.Join(t.TempDir(), admin.SocketFile)
	if _, err := client.NewUnix(gone).GetDNSSEC(context.Background(), zone); err == nil || !strings.Contains(err.Error(), gone) {
		t.Fatalf("missing socket: %v", err)
	}
}
