package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/signetdns/signet/admin"
	"github.com/signetdns/signet/forecast"
)

// maxAnswer bounds an answer read from the server (a GetDNSSEC is a few kilobytes).
const maxAnswer = 16 << 20

// Client calls one server's admin API.
type Client struct {
	// BaseURL is the listener's URL, "http://127.0.0.1:8053".
	BaseURL string
	// Token, when set, is sent as "Authorization: Bearer <Token>".
	Token string
	// HTTP sends the requests; nil means a client with a 30 s timeout.
	HTTP *http.Client

	where string // the control socket, for error messages; empty: BaseURL
}

// defaultTimeout bounds one call: a rollover or a KSK creation in a TPM takes seconds, not
// minutes.
const defaultTimeout = 30 * time.Second

// New returns a client of the listener at addr (host:port, or a URL) with the bearer token
// (empty: none).
func New(addr, token string) *Client {
	base := addr
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	return &Client{BaseURL: strings.TrimSuffix(base, "/"), Token: token}
}

// NewUnix returns a client of the control socket at path (no token: reaching the socket is
// the authentication).
func NewUnix(path string) *Client {
	var d net.Dialer
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", path)
	}}
	return &Client{BaseURL: "http://localhost", HTTP: &http.Client{Transport: tr, Timeout: defaultTimeout}, where: path}
}

// Error is a refusal from the server: the HTTP status and the API's error code and message.
type Error struct {
	Status  int
	Code    string // Route 53's error code (keymgr.Code*, admin.Code*); empty if the body had none
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("admin API: HTTP %d: %s", e.Status, e.Message)
	}
	return e.Code + ": " + e.Message
}

// GetDNSSEC returns the zone's signing status, keys and KSKs.
func (c *Client) GetDNSSEC(ctx context.Context, zone string) (*admin.DNSSEC, error) {
	return c.dnssec(ctx, http.MethodGet, admin.ZonePath(zone), nil)
}

// Enable signs the zone (EnableHostedZoneDNSSEC); it needs an ACTIVE KSK.
func (c *Client) Enable(ctx context.Context, zone string) (*admin.DNSSEC, error) {
	return c.dnssec(ctx, http.MethodPost, admin.ZonePath(zone, "enable"), nil)
}

// Disable serves the zone unsigned (DisableHostedZoneDNSSEC); refused while the parent
// publishes a DS unless force.
func (c *Client) Disable(ctx context.Context, zone string, force bool) (*admin.DNSSEC, error) {
	p := admin.ZonePath(zone, "disable")
	if force {
		p += "?force=true"
	}
	return c.dnssec(ctx, http.MethodPost, p, nil)
}

// CreateKSK creates a KSK (CreateKeySigningKey).
func (c *Client) CreateKSK(ctx context.Context, zone string, req admin.CreateKSKRequest) (*admin.DNSSEC, error) {
	return c.dnssec(ctx, http.MethodPost, admin.ZonePath(zone, "ksks"), req)
}

// ActivateKSK publishes the KSK and signs the DNSKEY RRset with it.
func (c *Client) ActivateKSK(ctx context.Context, zone, name string) (*admin.DNSSEC, error) {
	return c.dnssec(ctx, http.MethodPost, admin.ZonePath(zone, "ksks", name, "activate"), nil)
}

// DeactivateKSK withdraws the KSK from the DNSKEY RRset.
func (c *Client) DeactivateKSK(ctx context.Context, zone, name string) (*admin.DNSSEC, error) {
	return c.dnssec(ctx, http.MethodPost, admin.ZonePath(zone, "ksks", name, "deactivate"), nil)
}

// DeleteKSK deletes an INACTIVE KSK and its private key.
func (c *Client) DeleteKSK(ctx context.Context, zone, name string) (*admin.DNSSEC, error) {
	return c.dnssec(ctx, http.MethodDelete, admin.ZonePath(zone, "ksks", name), nil)
}

// ConfirmDS tells the server that the parent publishes the (new) KSK's DS.
func (c *Client) ConfirmDS(ctx context.Context, zone, name string) (*admin.DNSSEC, error) {
	return c.dnssec(ctx, http.MethodPost, admin.ZonePath(zone, "ksks", name, "ds-seen"), nil)
}

// Rollover starts a rollover of the role (admin.RoleKSK or admin.RoleZSK) now.
func (c *Client) Rollover(ctx context.Context, zone, role string) (*admin.DNSSEC, error) {
	return c.dnssec(ctx, http.MethodPost, admin.ZonePath(zone, "rollover")+"?role="+role+"&now=true", nil)
}

// Plan returns the zone's rollover forecast over horizon ("400d", "36h"; empty: the
// server's default), with the policy checks.
func (c *Client) Plan(ctx context.Context, zone, horizon string) (*forecast.Forecast, error) {
	p := admin.ZonePath(zone, "plan")
	if horizon != "" {
		p += "?for=" + url.QueryEscape(horizon)
	}
	var out forecast.Forecast
	if err := c.Do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Zones returns every configured zone's load state.
func (c *Client) Zones(ctx context.Context) (*admin.ZonesResponse, error) {
	var out admin.ZonesResponse
	if err := c.Do(ctx, http.MethodGet, admin.ZonesPath, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reload makes the server re-read every zone file.
func (c *Client) Reload(ctx context.Context) (*admin.ReloadResponse, error) {
	var out admin.ReloadResponse
	if err := c.Do(ctx, http.MethodPost, admin.ReloadPath, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) dnssec(ctx context.Context, method, path string, body any) (*admin.DNSSEC, error) {
	var out admin.DNSSEC
	if err := c.Do(ctx, method, path, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Do sends one request, body (if not nil) as JSON, and decodes a 2xx answer into out (if not
// nil). Any other answer is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: defaultTimeout}
	}
	resp, err := hc.Do(req)
	if err != nil {
		where := c.where
		if where == "" {
			where = c.BaseURL
		}
		return fmt.Errorf("admin API %s: %w (is signet serve running?)", where, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e admin.ErrorResponse
		if json.Unmarshal(raw, &e) == nil && e.Error.Code != "" {
			return &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
		}
		return &Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(raw))}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("admin API %s %s: answer: %w", method, path, err)
	}
	return nil
}
