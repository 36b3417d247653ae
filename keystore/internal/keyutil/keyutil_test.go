package keyutil

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
)

func TestCanonicalZone(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{"example.org.", "example.org.", false},
		{"Example.ORG", "example.org.", false},
		{".", ".", false},
		{"", "", true},
		{"..", "", true},
		{"a..b.", "", true},
		{".example.", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CanonicalZone(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("CanonicalZone(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewID()
		if !ValidID(id) {
			t.Fatalf("NewID() = %q is not valid", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "0123456789abcde", "0123456789abcdef0", "0123456789ABCDEF", "../3456789abcdef", "0123456789abcdeg"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestRoleText(t *testing.T) {
	for _, r := range []keystore.Role{keystore.KSK, keystore.ZSK} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != `"`+r.String()+`"` {
			t.Errorf("json of %v = %s", r, b)
		}
		var back keystore.Role
		if err := json.Unmarshal(b, &back); err != nil || back != r {
			t.Errorf("round trip of %v = %v, %v", r, back, err)
		}
	}
	if _, err := json.Marshal(keystore.Role(0)); err == nil {
		t.Error("marshalled Role(0)")
	}
	var r keystore.Role
	if err := json.Unmarshal([]byte(`"ksk"`), &r); err == nil {
		t.Error(`unmarshalled "ksk"`)
	}
	if s := keystore.Role(9).String(); s != "Role(9)" {
		t.Errorf("Role(9).String() = %q", s)
	}
}

func TestValidate(t *testing.T) {
	good := NewMeta("example.org.", keystore.KSK, 13, "software", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err := Validate(good); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	tests := []struct {
		name string
		mod  func(*keystore.Meta)
	}{
		{"id", func(m *keystore.Meta) { m.ID = "x" }},
		{"zone case", func(m *keystore.Meta) { m.Zone = "Example.org." }},
		{"zone not fqdn", func(m *keystore.Meta) { m.Zone = "example.org" }},
		{"role", func(m *keystore.Meta) { m.Role = 0 }},
		{"algorithm", func(m *keystore.Meta) { m.Algorithm = 0 }},
		{"backend", func(m *keystore.Meta) { m.Backend = "" }},
		{"created", func(m *keystore.Meta) { m.Created = time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := good
			tt.mod(&m)
			if err := Validate(m); err == nil {
				t.Error("Validate accepted it")
			}
		})
	}
}

func TestParsePKCS8Mismatch(t *testing.T) {
	k, err := GenerateSoftware(keystore.ED25519)
	if err != nil {
		t.Fatal(err)
	}
	der, err := marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParsePKCS8(der, keystore.ED25519); err != nil {
		t.Errorf("matching algorithm: %v", err)
	}
	if _, err := ParsePKCS8(der, keystore.ECDSAP256SHA256); err == nil {
		t.Error("an Ed25519 key parsed as algorithm 13")
	}
}
