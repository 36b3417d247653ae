// Command zonegen writes the zone and the dnsperf query files that the load harness
// (bench/load/run.sh) sends to Signet and to its peers.
//
//	go run ./bench/zonegen -seed 1 -names 10000 -origin bench.test. -out DIR
//
// writes, in DIR:
//
//	bench.test.zone   the zone: SOA, NS, and -names random host names with A, and some AAAA,
//	                  MX and TXT; a wildcard (*.wild), a delegation with DS and glue (sub)
//	q-existing.txt    names and types that exist (positive answers)
//	q-missing.txt     unique random names that do not exist (one per line, never repeated)
//	q-mix.txt         60% existing, 25% missing (unique), 5% wildcard, 5% NODATA, 5% referral
//
// With -zones N it writes N small zones instead (z00000.<origin> ...: SOA, NS, two addresses,
// MX, TXT), in DIR/zones/, and DIR/zones.txt listing "origin file" per line.
//
// -preset big (a zone of 1,000,000 names, small query files) and -preset many (10,000 small
// zones) are the sizes bench/scale/run.sh measures; other flags given with a preset win.
//
// Query files are in dnsperf's format, "name TYPE" per line. Everything follows from the
// seed: the same flags always give the same bytes. Each file draws from its own PCG stream,
// so changing -missing does not change the zone or the other files.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
)

func main() {
	var cfg config
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of every random choice")
	flag.IntVar(&cfg.Names, "names", 10000, "number of random host names in the zone")
	flag.StringVar(&cfg.Origin, "origin", "bench.test.", "zone apex")
	flag.IntVar(&cfg.Existing, "existing", 200000, "lines in q-existing.txt (dnsperf loops over it)")
	flag.IntVar(&cfg.Missing, "missing", 1500000,
		"lines in q-missing.txt; every name is unique, so size it to the run: seconds x 150,000")
	flag.IntVar(&cfg.Mix, "mix", 1500000,
		"lines in q-mix.txt; its missing names are unique too, so size it like -missing")
	out := flag.String("out", ".", "directory to write to (created if missing)")
	zones := flag.Int("zones", 0, "write this many small zones (and zones.txt) instead of one big zone")
	preset := flag.String("preset", "", "big (1,000,000 names) or many (10,000 small zones)")
	flag.Parse()
	if *preset != "" {
		p, ok := presets[*preset]
		if !ok {
			log.Fatalf("zonegen: unknown preset %q (big or many)", *preset)
		}
		given := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
		for name, value := range p {
			if !given[name] {
				if err := flag.Set(name, value); err != nil {
					log.Fatalf("zonegen: preset %s: %v", *preset, err)
				}
			}
		}
	}

	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatalf("zonegen: %v", err)
	}
	var files []string
	var err error
	if *zones > 0 {
		var c config
		if c, err = cfg.validate(); err == nil {
			files, err = writeMany(*zones, c.Origin, *out)
		}
	} else {
		files, err = generate(cfg, *out)
	}
	if err != nil {
		log.Fatalf("zonegen: %v", err)
	}
	for _, f := range files {
		fmt.Println(f)
	}
}
