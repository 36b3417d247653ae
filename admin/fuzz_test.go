package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzCreateKSKBody sends arbitrary bodies to CreateKeySigningKey through the guard and the
// handler, over a real key manager: every answer is a 200 with the zone or a client error
// with Route 53's error body, never a server error or a crash.
func FuzzCreateKSKBody(f *testing.F) {
	for _, s := range []string{
		`{"Name":"first","Status":"ACTIVE"}`, `{"Name":"a"}`, `{"Nme":"abc"}`, `{"Name":"x","Status":"ON"}`,
		`{"Name":"k","Status":"INACTIVE"}{}`, `[]`, `null`, `{"Name":1}`, "", `{"Name":"` + strings.Repeat("a", 200) + `"}`,
	} {
		f.Add(s)
	}
	h := &guard{next: newMux(Config{Manager: newManager(f), Logger: quietLogger()})}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", ZonePath(testZone, "ksks"), strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK:
			var d DNSSEC
			if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil || d.Zone != testZone {
				t.Fatalf("200 with body %q: %v", w.Body, err)
			}
		case http.StatusBadRequest, http.StatusConflict:
			var e ErrorResponse
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
				t.Fatalf("%d with body %q: %v", w.Code, w.Body, err)
			}
		default:
			t.Fatalf("body %q: HTTP %d %s", body, w.Code, w.Body)
		}
	})
}
