package cookie

import (
	"encoding/hex"
	"net/netip"
	"testing"
	"time"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSipHash: the test vector of the SipHash paper (Appendix A): key 00..0f, message 00..0e.
func TestSipHash(t *testing.T) {
	var k [16]byte
	for i := range k {
		k[i] = byte(i)
	}
	msg := make([]byte, 15)
	for i := range msg {
		msg[i] = byte(i)
	}
	if got := siphash24(&k, msg); got != 0xa129ca6149be45e5 {
		t.Fatalf("siphash24 = %x", got)
	}
}

func jarWith(t *testing.T, secret string) *Jar {
	t.Helper()
	j, err := New(Config{Secret: unhex(t, secret)})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestRFC9018Vectors: the server cookies of RFC 9018 Appendix A, made and verified.
func TestRFC9018Vectors(t *testing.T) {
	for _, tc := range []struct {
		name, secret, client, ip string
		at                       int64
		want                     string
	}{
		{"A.1", "e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100", 1559731985, "010000005cf79f111f8130c3eee29480"},
		{"A.2", "e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957", "198.51.100.100", 1559734385, "010000005cf7a871d4a564a1442aca77"},
		{"A.3", "e5e973e5a6b2a43f48e7dc849e37bfcf", "fc93fc62807ddb86", "203.0.113.203", 1559734700, "010000005cf7a9acf73a7810aca2381e"},
		{"A.4", "445536bcd2513298075a5d379663c962", "22681ab97d52c298", "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961, "010000005cf7c609a6bb79d16625507a"},
	} {
		j := jarWith(t, tc.secret)
		now := time.Unix(tc.at, 0)
		got := j.Make(unhex(t, tc.client), netip.MustParseAddr(tc.ip), now)
		if hex.EncodeToString(got[:]) != tc.want {
			t.Errorf("%s: made %x, want %s", tc.name, got, tc.want)
		}
		if ok, fresh := j.Verify(unhex(t, tc.client), got[:], netip.MustParseAddr(tc.ip), now.Add(10*time.Minute)); !ok || !fresh {
			t.Errorf("%s: own cookie not valid and fresh 10 minutes later", tc.name)
		}
	}
	// A.3's query carries reserved octets set by another implementation: they are hashed.
	j := jarWith(t, "e5e973e5a6b2a43f48e7dc849e37bfcf")
	q := unhex(t, "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5")
	if ok, _ := j.Verify(q[:8], q[8:], netip.MustParseAddr("203.0.113.203"), time.Unix(1559727985+60, 0)); !ok {
		t.Error("A.3 query cookie not valid")
	}
	if ok, _ := j.Verify(q[:8], q[8:], netip.MustParseAddr("203.0.113.204"), time.Unix(1559727985+60, 0)); ok {
		t.Error("A.3 cookie valid from another address")
	}
}

func TestWindowAndRotation(t *testing.T) {
	t.Parallel()
	j, err := New(Config{Rotate: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	client := unhex(t, "0102030405060708")
	ip := netip.MustParseAddr("192.0.2.1")
	t0 := time.Unix(1_800_000_000, 0)
	c := j.Make(client, ip, t0)
	for _, tc := range []struct {
		at          time.Duration
		valid, fres bool
	}{
		{0, true, true},
		{29 * time.Minute, true, true},
		{31 * time.Minute, true, false},
		{time.Hour, true, false},
		{time.Hour + time.Second, false, false},
		{-5 * time.Minute, true, true},
		{-6 * time.Minute, false, false},
	} {
		if ok, fresh := j.Verify(client, c[:], ip, t0.Add(tc.at)); ok != tc.valid || fresh != tc.fres {
			t.Errorf("at %v: valid %v fresh %v, want %v %v", tc.at, ok, fresh, tc.valid, tc.fres)
		}
	}
	// After a rotation, a cookie of the old secret made just before it stays valid.
	late := t0.Add(2*time.Hour - time.Minute)
	old := j.Make(client, ip, late)
	rotated := t0.Add(2 * time.Hour)
	neu := j.Make(client, ip, rotated)
	if string(neu[8:]) == string(old[8:]) {
		t.Fatal("the secret did not rotate")
	}
	if ok, _ := j.Verify(client, old[:], ip, rotated.Add(30*time.Minute)); !ok {
		t.Error("a cookie of the previous secret was refused")
	}
	// Two rotations later the old secret is gone.
	j.Make(client, ip, t0.Add(4*time.Hour))
	if ok, _ := j.Verify(client, old[:], ip, late.Add(30*time.Minute)); ok {
		t.Error("a cookie of a secret two rotations old was accepted")
	}
	for _, bad := range [][]byte{nil, c[:15], append([]byte{2}, c[1:]...)} {
		if ok, _ := j.Verify(client, bad, ip, t0); ok {
			t.Errorf("cookie %x accepted", bad)
		}
	}
	if _, err := New(Config{Rotate: time.Hour}); err == nil {
		t.Error("an hour's rotation accepted")
	}
	if _, err := New(Config{Secret: []byte("short")}); err == nil {
		t.Error("a short secret accepted")
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]Verdict{0: Malformed, 7: Malformed, 8: ClientOnly, 9: Malformed, 15: Malformed, 16: Invalid, 24: Invalid, 40: Invalid, 41: Malformed} {
		if _, _, v := Parse(make([]byte, n)); v != want {
			t.Errorf("%d octets: %v, want %v", n, v, want)
		}
	}
}

// TestSharedSecret: a fixed secret never rotates, so servers sharing it keep verifying each
// other's cookies; the previous one of a manual rollover is still accepted.
func TestSharedSecret(t *testing.T) {
	t.Parallel()
	old, neu := unhex(t, "e5e973e5a6b2a43f48e7dc849e37bfcf"), unhex(t, "445536bcd2513298075a5d379663c962")
	a, err := New(Config{Secret: neu, Previous: old, Rotate: -1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Config{Secret: neu, Rotate: -1})
	if err != nil {
		t.Fatal(err)
	}
	client, ip := unhex(t, "0102030405060708"), netip.MustParseAddr("192.0.2.9")
	t0 := time.Unix(1_800_000_000, 0)
	for _, at := range []time.Duration{0, 72 * time.Hour, 1000 * time.Hour} {
		c := b.Make(client, ip, t0.Add(at))
		if ok, _ := a.Verify(client, c[:], ip, t0.Add(at+time.Minute)); !ok {
			t.Fatalf("%v later: a cookie of the other server was refused", at)
		}
	}
	// A cookie of the previous secret (RFC 9018 A.1) is accepted where it is configured.
	q := unhex(t, "2464c4abcf10c957010000005cf79f111f8130c3eee29480")
	at := time.Unix(1559731985+60, 0)
	if ok, _ := a.Verify(q[:8], q[8:], netip.MustParseAddr("198.51.100.100"), at); !ok {
		t.Error("a cookie of the previous secret was refused")
	}
	if ok, _ := b.Verify(q[:8], q[8:], netip.MustParseAddr("198.51.100.100"), at); ok {
		t.Error("a cookie of a secret this server never had was accepted")
	}
	if _, err := New(Config{Previous: []byte("short")}); err == nil {
		t.Error("a short previous secret accepted")
	}
}
