package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/zones"
)

// TestBigPresetLoadsInPieces loads a generated zone big enough for zones.Load to parse it in
// pieces on several goroutines, and the same bytes parsed whole (zones.Parse of a reader):
// every RRset must be the same, in the same order, with the same authority.
func TestBigPresetLoadsInPieces(t *testing.T) {
	t.Parallel()
	cfg := smallConfig(3)
	cfg.Names = 20000
	dir := t.TempDir()
	files, err := generate(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	path := files[0]
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(text) < 1<<20 {
		t.Fatalf("zone of %d octets: too small to be loaded in pieces", len(text))
	}
	loaded, err := zones.Load("bench.test.", path, zones.Options{MaxTTL: zones.MaxSignedTTL})
	if err != nil {
		t.Fatal(err)
	}
	whole, err := zones.Parse(bytes.NewReader(text), "bench.test.", path, zones.Options{MaxTTL: zones.MaxSignedTTL})
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Names() != whole.Names() || loaded.Names() < cfg.Names {
		t.Errorf("names: loaded %d, whole %d, want at least %d", loaded.Names(), whole.Names(), cfg.Names)
	}
	if got, want := walk(loaded), walk(whole); !slices.Equal(got, want) {
		t.Errorf("Load and Parse differ: %d and %d records", len(got), len(want))
	}
	// A bad record near the end names the same line either way.
	bad := append(slices.Clone(text), "bad.bench.test. 3600 IN A 192.0.2.300\n"...)
	badPath := filepath.Join(dir, "bad.zone")
	if err := os.WriteFile(badPath, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errLoad := zones.Load("bench.test.", badPath, zones.Options{})
	_, errParse := zones.Parse(bytes.NewReader(bad), "bench.test.", badPath, zones.Options{})
	want := fmt.Sprintf("%s:%d:", badPath, bytes.Count(text, []byte("\n"))+1)
	if errLoad == nil || errParse == nil || !strings.HasSuffix(errLoad.Error(), ": "+errParse.Error()) || !strings.HasPrefix(errParse.Error(), want) {
		t.Errorf("errors: Load %v, Parse %v; want both at %s", errLoad, errParse, want)
	}
}

func walk(z *zones.Zone) []string {
	var out []string
	z.Walk(func(set []dns.RR, auth bool) {
		for _, rr := range set {
			out = append(out, fmt.Sprintf("%v %s", auth, rr))
		}
	})
	return out
}
