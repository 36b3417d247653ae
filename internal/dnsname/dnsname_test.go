package dnsname

import "testing"

// TestCompare uses the example list of RFC 4034 §6.1, which is in canonical order, plus names
// whose labels hold the octets 0 and 1 that Key escapes.
func TestCompare(t *testing.T) {
	order := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
		"zABC.a.EXAMPLE.", "z.example.", `\001.z.example.`, "*.z.example.", `\200.z.example.`,
		`z\000.example.`, `z\001.example.`, `z\002.example.`}
	for i := range order {
		for j := range order {
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got := Compare(order[i], order[j]); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	if Key("A.Example") != Key("a.example.") {
		t.Error("Key is not case-insensitive or needs the final dot")
	}
}

func TestInZone(t *testing.T) {
	for _, tc := range []struct {
		name, zone string
		want       bool
	}{
		{"example.test.", "example.test.", true},
		{"WWW.Example.TEST.", "example.test.", true},
		{"a.b.example.test.", "example.test.", true},
		{"xexample.test.", "example.test.", false},
		{"example.test.", "www.example.test.", false},
		{`a\.example.test.`, "example.test.", false}, // one label "a.example", then "test"
		{`a\\.example.test.`, "example.test.", true}, // the label "a\" ends at the dot
		{`a\\\.example.test.`, "example.test.", false},
		{`example\.test.`, "test.", false},
		{`x.example\.test.`, `example\.test.`, true},
		{"anything.", ".", true},
		{"test.", "example.test.", false},
	} {
		if got := InZone(tc.name, tc.zone); got != tc.want {
			t.Errorf("InZone(%s, %s) = %v, want %v", tc.name, tc.zone, got, tc.want)
		}
	}
}
