package keyutil

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
)

func seal(t *testing.T, plain []byte, r age.Recipient) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(sealed []byte, id age.Identity) ([]byte, error) {
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// TestX25519Interoperates: files sealed by age's own X25519 recipient open with X25519, and
// files sealed by X25519's recipient open with age's own identity (so `age -d -i` opens
// them); another identity opens neither.
func TestX25519Interoperates(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	fast, err := NewX25519(id)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	otherFast, err := NewX25519(other)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte("a PKCS #8 key, say")
	for _, tc := range []struct {
		name string
		by   age.Recipient
		with age.Identity
	}{
		{"age seals, X25519 opens", id.Recipient(), fast},
		{"X25519 seals, age opens", fast.Recipient(), id},
		{"X25519 seals and opens", fast.Recipient(), fast},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed := seal(t, plain, tc.by)
			got, err := open(sealed, tc.with)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("opened %q, %v; want %q", got, err, plain)
			}
			var noMatch *age.NoIdentityMatchError
			if _, err := open(sealed, otherFast); !errors.As(err, &noMatch) {
				t.Errorf("another identity: %v, want age's no-match error", err)
			}
		})
	}
}

func TestBech32Decode(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	hrp, data, err := bech32Decode(id.String())
	if err != nil || hrp != "age-secret-key-" || len(data) != 32 {
		t.Fatalf("decode %s: %q, %d bytes, %v", id, hrp, len(data), err)
	}
	s := []byte(id.String())
	s[len(s)-1] ^= 1 // the checksum no longer matches
	if _, _, err := bech32Decode(string(s)); err == nil {
		t.Error("a corrupted string decoded")
	}
}
