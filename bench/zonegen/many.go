package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// presets are the sizes the scale harness (bench/scale/run.sh) measures: one zone of a million
// names, and ten thousand zones of a few records. A preset sets the flags it names; flags given
// on the command line win.
var presets = map[string]map[string]string{
	"big":  {"names": "1000000", "existing": "1000", "missing": "1000", "mix": "1000"},
	"many": {"zones": "10000"},
}

// writeMany writes n small zones z<i>.<origin> into dir/zones, each with an SOA, NS, two
// addresses, an MX and a TXT (six records), and dir/zones.txt listing "origin file" per line
// in zone order. It returns the paths of the list and of the zone directory.
func writeMany(n int, origin, dir string) ([]string, error) {
	zdir := filepath.Join(dir, "zones")
	if err := os.MkdirAll(zdir, 0o755); err != nil {
		return nil, err
	}
	list := filepath.Join(dir, "zones.txt")
	err := writeFile(list, func(lw *bufio.Writer) error {
		for i := range n {
			o := fmt.Sprintf("z%05d.%s", i, origin)
			path := filepath.Join(zdir, strings.TrimSuffix(o, ".")+".zone")
			if err := writeFile(path, func(w *bufio.Writer) error {
				smallZone(w, o, i)
				return nil
			}); err != nil {
				return err
			}
			fmt.Fprintf(lw, "%s %s\n", o, path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return []string{list, zdir}, nil
}

// smallZone writes the i-th small zone: what a hosted zone of a provider typically holds.
func smallZone(w *bufio.Writer, o string, i int) {
	a := addr4(uint32(i))
	fmt.Fprintf(w, "$ORIGIN %s\n$TTL %d\n", o, ttl)
	fmt.Fprintf(w, "@ SOA ns1 hostmaster 1 3600 900 1209600 300\n")
	fmt.Fprintf(w, "@ NS ns1\n")
	fmt.Fprintf(w, "ns1 A %s\n", a)
	fmt.Fprintf(w, "www A %s\n", a)
	fmt.Fprintf(w, "@ MX 10 www\n")
	fmt.Fprintf(w, "@ TXT \"v=spf1 -all\"\n")
}
