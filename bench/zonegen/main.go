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
