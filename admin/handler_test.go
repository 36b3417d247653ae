package admin

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signetdns/signet/admin/internal/admintest"
	"github.com/signetdns/signet/keymgr"
)

const testZone = admintest.Zone

func newManager(t testing.TB) *keymgr.Manager { return admintest.NewManager(t) }

func quietLogger() *slog.Logger { return admintest.Logger() }

// TestAPI: each DNSSEC call answers the zone's GetDNSSEC, or Route 53's code and HTTP status.
func TestAPI(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newMux(Config{Manager: newManager(t), Logger: quietLogger()}))
	defer srv.Close()
	base := srv.URL + "/v1/zones/" + testZone + "/dnssec"
	call := func(method, path, body string) (int, []byte) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, raw
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"enable without KSK", "POST", "/enable", "", 400, keymgr.CodeKeySigningKeyWithActiveStatusNotFound},
		{"disable without DNSSEC", "POST", "/disable", "", 400, keymgr.CodeDNSSECNotFound},
		{"bad name", "POST", "/ksks", `{"Name":"a"}`, 400, keymgr.CodeInvalidKeySigningKeyName},
		{"bad body", "POST", "/ksks", `{"Nme":"abc"}`, 400, keymgr.CodeInvalidInput},
		{"bad status", "POST", "/ksks", `{"Name":"abc","Status":"ON"}`, 400, keymgr.CodeInvalidKeySigningKeyStatus},
		{"create", "POST", "/ksks", `{"Name":"first","Status":"ACTIVE"}`, 200, ""},
		{"duplicate", "POST", "/ksks", `{"Name":"first"}`, 409, keymgr.CodeKeySigningKeyAlreadyExists},
		{"create second", "POST", "/ksks", `{"Name":"second","Status":"INACTIVE"}`, 200, ""},
		{"too many", "POST", "/ksks", `{"Name":"third"}`, 400, keymgr.CodeTooManyKeySigningKeys},
		{"activate missing", "POST", "/ksks/nosuch/activate", "", 404, keymgr.CodeNoSuchKeySigningKey},
		{"delete active", "DELETE", "/ksks/first", "", 400, keymgr.CodeInvalidKeySigningKeyStatus},
		{"enable", "POST", "/enable", "", 200, ""},
		{"deactivate only active", "POST", "/ksks/first/deactivate", "", 400, keymgr.CodeKeySigningKeyInUse},
		{"bad force", "POST", "/disable?force=maybe", "", 400, keymgr.CodeInvalidArgument},
		{"delete inactive", "DELETE", "/ksks/second", "", 200, ""},
		{"rollover bad role", "POST", "/rollover?role=dsk&now=true", "", 400, keymgr.CodeInvalidArgument},
		{"rollover not now", "POST", "/rollover?role=zsk", "", 400, keymgr.CodeInvalidArgument},
		{"rollover manual KSK", "POST", "/rollover?role=ksk&now=true", "", 400, keymgr.CodeInvalidArgument},
		{"rollover ZSK", "POST", "/rollover?role=zsk&now=true", "", 200, ""},
		{"rollover ZSK again", "POST", "/rollover?role=zsk&now=true", "", 400, keymgr.CodeConcurrentModification},
		{"ds-seen not rolling", "POST", "/ksks/first/ds-seen", "", 400, keymgr.CodeInvalidKeySigningKeyStatus},
		{"ds-seen missing", "POST", "/ksks/nosuch/ds-seen", "", 404, keymgr.CodeNoSuchKeySigningKey},
		{"get", "GET", "", "", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, raw := call(tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, raw)
			}
			if tc.code != "" {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
					t.Fatalf("body %s, want code %s", raw, tc.code)
				}
				return
			}
			var d keymgr.DNSSEC
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			if d.Zone != testZone {
				t.Errorf("zone %q", d.Zone)
			}
			if strings.Contains(strings.ToLower(string(raw)), "private") {
				t.Errorf("answer mentions private key material: %s", raw)
			}
		})
	}
	status, _ := call("GET", "", "")
	if status != 200 {
		t.Fatal(status)
	}
	resp, err := http.Get(srv.URL + "/v1/zones/nosuch.test./dnssec")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown zone: %d, want 404", resp.StatusCode)
	}
}
