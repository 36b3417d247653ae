package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// smallConfig keeps the files small enough for a unit test while exercising every kind of
// line.
func smallConfig(seed uint64) config {
	return config{Seed: seed, Names: 500, Origin: "Bench.Test", Existing: 2000, Missing: 5000, Mix: 20000}
}

func mustGenerate(t *testing.T, cfg config) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	files, err := generate(cfg, dir)
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	out := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

func TestGenerateDeterministic(t *testing.T) {
	a := mustGenerate(t, smallConfig(1))
	b := mustGenerate(t, smallConfig(1))
	c := mustGenerate(t, smallConfig(2))
	want := []string{"bench.test.zone", "q-existing.txt", "q-missing.txt", "q-mix.txt"}
	if len(a) != len(want) {
		t.Fatalf("generated %d files, want %d", len(a), len(want))
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			if len(a[name]) == 0 {
				t.Fatal("empty file")
			}
			if !bytes.Equal(a[name], b[name]) {
				t.Error("same seed gave different bytes")
			}
			if bytes.Equal(a[name], c[name]) {
				t.Error("seeds 1 and 2 gave the same bytes")
			}
		})
	}

	// Each file has its own stream: resizing one query file leaves the rest unchanged.
	cfg := smallConfig(1)
	cfg.Missing = 7
	d := mustGenerate(t, cfg)
	for _, name := range []string{"bench.test.zone", "q-existing.txt", "q-mix.txt"} {
		if !bytes.Equal(a[name], d[name]) {
			t.Errorf("%s changed when only -missing changed", name)
		}
	}
}

// zoneTypes parses the zone with miekg/dns's ZoneParser and returns the types at each
// owner name.
func zoneTypes(t *testing.T, text []byte, origin string) map[string]map[uint16]bool {
	t.Helper()
	zp := dns.NewZoneParser(bytes.NewReader(text), origin, "bench.test.zone")
	names := map[string]map[uint16]bool{}
	first := true
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		if first && h.Rrtype != dns.TypeSOA {
			t.Fatalf("first record is %s, want the SOA", dns.TypeToString[h.Rrtype])
		}
		first = false
		if !dns.IsSubDomain(origin, h.Name) {
			t.Errorf("%s is outside %s", h.Name, origin)
		}
		if names[h.Name] == nil {
			names[h.Name] = map[uint16]bool{}
		}
		if names[h.Name][h.Rrtype] {
			t.Errorf("%s %s appears twice", h.Name, dns.TypeToString[h.Rrtype])
		}
		names[h.Name][h.Rrtype] = true
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("zone does not parse: %v", err)
	}
	return names
}

func TestZoneParses(t *testing.T) {
	cfg := smallConfig(3)
	files := mustGenerate(t, cfg)
	names := zoneTypes(t, files["bench.test.zone"], "bench.test.")

	hosts := 0
	for name, types := range names {
		label := strings.TrimSuffix(name, ".bench.test.")
		if label != name && !strings.Contains(label, ".") && types[dns.TypeA] &&
			label != labelNS1 && label != labelWWW && label != labelMail {
			hosts++
		}
	}
	if hosts != cfg.Names {
		t.Errorf("zone has %d host names, want %d", hosts, cfg.Names)
	}
	checks := []struct {
		name  string
		owner string
		types []uint16
	}{
		{"apex", "bench.test.", []uint16{dns.TypeSOA, dns.TypeNS}},
		{"wildcard", "*.wild.bench.test.", []uint16{dns.TypeA, dns.TypeTXT}},
		{"delegation", "sub.bench.test.", []uint16{dns.TypeNS, dns.TypeDS}},
		{"glue", "ns1.sub.bench.test.", []uint16{dns.TypeA}},
		{"www", "www.bench.test.", []uint16{dns.TypeA, dns.TypeAAAA}},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, ty := range c.types {
				if !names[c.owner][ty] {
					t.Errorf("%s has no %s", c.owner, dns.TypeToString[ty])
				}
			}
		})
	}
}

// Query kinds, decided from the parsed zone rather than from the generator's own data.
const (
	kindExisting = "existing"
	kindNodata   = "nodata"
	kindMissing  = "missing"
	kindWildcard = "wildcard"
	kindReferral = "referral"
)

func classify(t *testing.T, names map[string]map[uint16]bool, line string) (string, string) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 2 {
		t.Fatalf("line %q: want \"name TYPE\"", line)
	}
	name, ty := f[0], dns.StringToType[f[1]]
	if _, ok := dns.IsDomainName(name); !ok || !dns.IsFqdn(name) || ty == 0 {
		t.Fatalf("line %q: bad name or type", line)
	}
	switch {
	case dns.IsSubDomain("sub.bench.test.", name):
		return kindReferral, name
	case names[name][ty]:
		return kindExisting, name
	case names[name] != nil:
		return kindNodata, name
	case dns.IsSubDomain("wild.bench.test.", name):
		return kindWildcard, name
	}
	// A missing name must not be an empty non-terminal either: no zone name is below it.
	for n := range names {
		if dns.IsSubDomain(name, n) {
			t.Fatalf("line %q: %s exists below it", line, n)
		}
	}
	return kindMissing, name
}

func TestQueryFiles(t *testing.T) {
	cfg := smallConfig(4)
	files := mustGenerate(t, cfg)
	names := zoneTypes(t, files["bench.test.zone"], "bench.test.")

	cases := []struct {
		file  string
		lines int
		want  map[string]float64 // share of each kind
	}{
		{"q-existing.txt", cfg.Existing, map[string]float64{kindExisting: 1}},
		{"q-missing.txt", cfg.Missing, map[string]float64{kindMissing: 1}},
		{"q-mix.txt", cfg.Mix, map[string]float64{kindExisting: .60, kindMissing: .25,
			kindWildcard: .05, kindNodata: .05, kindReferral: .05}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			count := map[string]int{}
			seen := map[string]bool{}
			lines := 0
			sc := bufio.NewScanner(bytes.NewReader(files[c.file]))
			for sc.Scan() {
				lines++
				kind, name := classify(t, names, sc.Text())
				count[kind]++
				// Missing and wildcard names are unique so that no cache can answer them.
				if kind == kindMissing || kind == kindWildcard {
					if seen[name] {
						t.Fatalf("%s repeats the %s name %s", c.file, kind, name)
					}
					seen[name] = true
				}
			}
			if lines != c.lines {
				t.Fatalf("%d lines, want %d", lines, c.lines)
			}
			for kind := range count {
				if _, ok := c.want[kind]; !ok {
					t.Errorf("%d unexpected %s queries", count[kind], kind)
				}
			}
			for kind, share := range c.want {
				got := float64(count[kind]) / float64(lines)
				if got < share-0.02 || got > share+0.02 {
					t.Errorf("%s share %.3f, want %.2f ± 0.02", kind, got, share)
				}
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(*config)
	}{
		{"no names", func(c *config) { c.Names = 0 }},
		{"root origin", func(c *config) { c.Origin = "." }},
		{"bad origin", func(c *config) { c.Origin = "a..b" }},
		{"negative missing", func(c *config) { c.Missing = -1 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := smallConfig(1)
			c.edit(&cfg)
			if _, err := generate(cfg, t.TempDir()); err == nil {
				t.Error("generate accepted a bad config")
			}
		})
	}
}

// TestWriteMany: the small zones parse, each holds its six records under its own origin, and
// zones.txt lists them in order.
func TestWriteMany(t *testing.T) {
	dir := t.TempDir()
	files, err := writeMany(3, "bench.test.", dir)
	if err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(list)), "\n")
	if len(lines) != 3 {
		t.Fatalf("zones.txt has %d lines, want 3", len(lines))
	}
	for i, l := range lines {
		origin, path, _ := strings.Cut(l, " ")
		if want := "z0000" + string(rune('0'+i)) + ".bench.test."; origin != want {
			t.Errorf("line %d origin %s, want %s", i, origin, want)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		zp := dns.NewZoneParser(bufio.NewReader(f), "", path)
		n := 0
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			if !dns.IsSubDomain(origin, rr.Header().Name) {
				t.Errorf("%s: %s is out of the zone", path, rr)
			}
			n++
		}
		f.Close()
		if err := zp.Err(); err != nil || n != 6 {
			t.Errorf("%s: %d records, err %v; want 6", path, n, err)
		}
	}
}
