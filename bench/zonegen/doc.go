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
//
// It imports no Signet package: what it writes is plain master-file and dnsperf text.
package main
