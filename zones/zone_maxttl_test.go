package zones

import (
	"strings"
	"testing"
)

func TestZoneMaxTTL(t *testing.T) {
	const text = "$ORIGIN m.test.\n@ 300 SOA ns host 1 2 3 4 60\n@ 300 NS ns\nns 86400 A 192.0.2.1\nbig 9000000 TXT x\n"
	for _, tc := range []struct {
		cap, want uint32
	}{{0, 9000000}, {604800, 604800}} {
		z, err := Parse(strings.NewReader(text), "m.test.", "m.zone", Options{MaxTTL: tc.cap})
		if err != nil {
			t.Fatal(err)
		}
		if z.MaxTTL() != tc.want {
			t.Errorf("cap %d: MaxTTL %d, want %d", tc.cap, z.MaxTTL(), tc.want)
		}
	}
}
