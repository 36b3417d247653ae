package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// config holds zonegen's flags.
type config struct {
	Seed     uint64 // seed of every PCG stream
	Names    int    // random host names in the zone (besides the fixed names)
	Origin   string // zone apex, e.g. "bench.test."
	Existing int    // lines in q-existing.txt
	Missing  int    // lines in q-missing.txt, every one a distinct name
	Mix      int    // lines in q-mix.txt
}

// Fixed names in every generated zone, relative to the origin. Host labels are at most
// maxHostLabel characters and unique-name labels exactly uniqueLabelLen, so a generated
// missing name can never equal a host or one of these.
const (
	labelNS1      = "ns1"
	labelWWW      = "www"
	labelMail     = "mail"
	labelWild     = "wild" // *.wild holds the wildcard (RFC 4592)
	labelSub      = "sub"  // sub is delegated, with a DS and in-bailiwick glue
	ttl           = 3600
	minHostLabel  = 3
	maxHostLabel  = 10
	referralNames = 1000 // distinct names below the delegation used by q-mix.txt
)

// uniqueLabelLen is the length of a label that encodes one uint64 in base32 (13 x 5 bits >=
// 64), so distinct draws give distinct labels and a set of uint64 proves uniqueness.
const uniqueLabelLen = 13

// PCG stream numbers: each output file has its own stream so that its size does not
// change the other files.
const (
	streamZone uint64 = iota + 1
	streamExisting
	streamMissing
	streamMix
)

// The query-type universe of host names: every host has an A; some have AAAA, MX, TXT.
var hostTypes = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT}

// host is one generated owner name and the types it holds, in hostTypes order.
type host struct {
	name  string
	types []uint16
}

// zoneData is what the query generators need to know about the zone.
type zoneData struct {
	origin string
	hosts  []host
}

func (c config) validate() (config, error) {
	origin := dns.CanonicalName(c.Origin)
	if _, ok := dns.IsDomainName(origin); !ok || origin == "." {
		return c, fmt.Errorf("origin %q is not a domain name below the root", c.Origin)
	}
	c.Origin = origin
	if c.Names < 1 {
		return c, errors.New("names must be at least 1")
	}
	if c.Existing < 0 || c.Missing < 0 || c.Mix < 0 {
		return c, errors.New("query counts must not be negative")
	}
	// 36^(maxHostLabel-1) labels are available; a zone close to that would loop for long.
	if c.Names > 10_000_000 {
		return c, errors.New("names must be at most 10,000,000")
	}
	return c, nil
}

// generate writes the zone and the query files into dir and returns their paths.
func generate(cfg config, dir string) ([]string, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	zonePath := filepath.Join(dir, strings.TrimSuffix(cfg.Origin, ".")+".zone")
	var zd zoneData
	err = writeFile(zonePath, func(w *bufio.Writer) error {
		zd = writeZone(w, cfg, newRand(cfg.Seed, streamZone))
		return nil
	})
	if err != nil {
		return nil, err
	}
	files := []string{zonePath}
	queries := []struct {
		name  string
		write func(*bufio.Writer) error
	}{
		{"q-existing.txt", func(w *bufio.Writer) error {
			return writeExisting(w, zd, cfg.Existing, newRand(cfg.Seed, streamExisting))
		}},
		{"q-missing.txt", func(w *bufio.Writer) error {
			return writeMissing(w, zd, cfg.Missing, newRand(cfg.Seed, streamMissing))
		}},
		{"q-mix.txt", func(w *bufio.Writer) error {
			return writeMix(w, zd, cfg.Mix, newRand(cfg.Seed, streamMix))
		}},
	}
	for _, q := range queries {
		p := filepath.Join(dir, q.name)
		if err := writeFile(p, q.write); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	return files, nil
}

func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// writeFile creates path, lets fill write through a buffer, and reports the first error
// of writing, flushing or closing.
func writeFile(path string, fill func(*bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = fill(w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeZone writes the zone text: the apex, the fixed names, then cfg.Names random hosts.
// Write errors stick in w and surface at Flush.
func writeZone(w *bufio.Writer, cfg config, r *rand.Rand) zoneData {
	o := cfg.Origin
	hdr := func(name string, t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	at := func(label string) string { return label + "." + o }
	rrs := []dns.RR{
		&dns.SOA{Hdr: hdr(o, dns.TypeSOA), Ns: at(labelNS1), Mbox: at("hostmaster"),
			Serial: 1, Refresh: 3600, Retry: 900, Expire: 1209600, Minttl: 300},
		&dns.NS{Hdr: hdr(o, dns.TypeNS), Ns: at(labelNS1)},
		&dns.A{Hdr: hdr(at(labelNS1), dns.TypeA), A: addr4(0).AsSlice()},
		&dns.AAAA{Hdr: hdr(at(labelNS1), dns.TypeAAAA), AAAA: addr6(0).AsSlice()},
		&dns.A{Hdr: hdr(at(labelWWW), dns.TypeA), A: addr4(1).AsSlice()},
		&dns.AAAA{Hdr: hdr(at(labelWWW), dns.TypeAAAA), AAAA: addr6(1).AsSlice()},
		&dns.A{Hdr: hdr(at(labelMail), dns.TypeA), A: addr4(2).AsSlice()},
		&dns.AAAA{Hdr: hdr(at(labelMail), dns.TypeAAAA), AAAA: addr6(2).AsSlice()},
		&dns.A{Hdr: hdr("*."+at(labelWild), dns.TypeA), A: addr4(3).AsSlice()},
		&dns.TXT{Hdr: hdr("*."+at(labelWild), dns.TypeTXT), Txt: []string{"wildcard"}},
		&dns.NS{Hdr: hdr(at(labelSub), dns.TypeNS), Ns: "ns1." + at(labelSub)},
		&dns.DS{Hdr: hdr(at(labelSub), dns.TypeDS), KeyTag: uint16(r.IntN(1 << 16)),
			Algorithm: dns.ECDSAP256SHA256, DigestType: dns.SHA256, Digest: randHex(r, 32)},
		&dns.A{Hdr: hdr("ns1."+at(labelSub), dns.TypeA), A: addr4(4).AsSlice()},
	}
	fmt.Fprintf(w, "; generated by bench/zonegen -seed %d -names %d -origin %s\n", cfg.Seed, cfg.Names, o)
	fmt.Fprintf(w, "$ORIGIN %s\n$TTL %d\n", o, ttl)
	for _, rr := range rrs {
		fmt.Fprintln(w, rr.String())
	}

	taken := map[string]bool{labelNS1: true, labelWWW: true, labelMail: true, labelWild: true,
		labelSub: true, "hostmaster": true}
	zd := zoneData{origin: o, hosts: make([]host, 0, cfg.Names)}
	for i := range cfg.Names {
		label := hostLabel(r)
		for taken[label] {
			label = hostLabel(r)
		}
		taken[label] = true
		h := host{name: at(label), types: []uint16{dns.TypeA}}
		n := uint32(i + 16) // leave the first addresses to the fixed names
		fmt.Fprintln(w, (&dns.A{Hdr: hdr(h.name, dns.TypeA), A: addr4(n).AsSlice()}).String())
		if r.IntN(2) == 0 {
			h.types = append(h.types, dns.TypeAAAA)
			fmt.Fprintln(w, (&dns.AAAA{Hdr: hdr(h.name, dns.TypeAAAA), AAAA: addr6(n).AsSlice()}).String())
		}
		if r.IntN(5) == 0 {
			h.types = append(h.types, dns.TypeMX)
			fmt.Fprintln(w, (&dns.MX{Hdr: hdr(h.name, dns.TypeMX), Preference: 10, Mx: at(labelMail)}).String())
		}
		if r.IntN(5) == 0 {
			h.types = append(h.types, dns.TypeTXT)
			txt := "v=bench " + randHex(r, 8+r.IntN(25))
			fmt.Fprintln(w, (&dns.TXT{Hdr: hdr(h.name, dns.TypeTXT), Txt: []string{txt}}).String())
		}
		zd.hosts = append(zd.hosts, h)
	}
	return zd
}

// addr4 is the n-th address of 198.18.0.0/15, the benchmarking range of RFC 2544.
func addr4(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 18 + byte(n>>16&1), byte(n >> 8), byte(n)})
}

// addr6 is the n-th address of 2001:db8::/32, the documentation prefix of RFC 3849.
func addr6(n uint32) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

func randHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

const hostAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// hostLabel draws a label of minHostLabel..maxHostLabel characters starting with a letter.
func hostLabel(r *rand.Rand) string {
	b := make([]byte, minHostLabel+r.IntN(maxHostLabel-minHostLabel+1))
	b[0] = hostAlphabet[r.IntN(26)]
	for i := 1; i < len(b); i++ {
		b[i] = hostAlphabet[r.IntN(len(hostAlphabet))]
	}
	return string(b)
}

// uniqueLabels hands out labels that never repeat within one generator: each encodes a
// fresh 64-bit draw in base32, and the set of draws rejects repeats.
type uniqueLabels struct {
	r    *rand.Rand
	seen map[uint64]struct{}
}

func newUniqueLabels(r *rand.Rand, n int) *uniqueLabels {
	return &uniqueLabels{r: r, seen: make(map[uint64]struct{}, n)}
}

const base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567"

func (u *uniqueLabels) next() string {
	v := u.r.Uint64()
	for {
		if _, dup := u.seen[v]; !dup {
			break
		}
		v = u.r.Uint64()
	}
	u.seen[v] = struct{}{}
	var b [uniqueLabelLen]byte
	for i := range b {
		b[i] = base32Alphabet[v&31]
		v >>= 5
	}
	return string(b[:])
}

// query writes one dnsperf line: "name TYPE".
func query(w *bufio.Writer, name string, t uint16) {
	w.WriteString(name)
	w.WriteByte(' ')
	w.WriteString(dns.TypeToString[t])
	w.WriteByte('\n')
}

// writeExisting writes n queries for a random host and one of the types it holds.
func writeExisting(w *bufio.Writer, zd zoneData, n int, r *rand.Rand) error {
	for range n {
		h := zd.hosts[r.IntN(len(zd.hosts))]
		query(w, h.name, h.types[r.IntN(len(h.types))])
	}
	return nil
}

// writeMissing writes n queries for distinct names directly below the apex that do not
// exist, the shape of a random-subdomain flood: no answer can come from a cache.
func writeMissing(w *bufio.Writer, zd zoneData, n int, r *rand.Rand) error {
	u := newUniqueLabels(r, n)
	for range n {
		query(w, u.next()+"."+zd.origin, dns.TypeA)
	}
	return nil
}

// writeMix writes n queries: 60% existing, 25% missing (unique), 5% wildcard matches
// (unique names, so each needs its own proof that the name itself does not exist,
// RFC 4035 §3.1.3.3), 5% NODATA (a host and a type it lacks) and 5% referrals into the
// delegated sub-zone.
func writeMix(w *bufio.Writer, zd zoneData, n int, r *rand.Rand) error {
	u := newUniqueLabels(r, n/2)
	wild := labelWild + "." + zd.origin
	sub := labelSub + "." + zd.origin
	for range n {
		switch p := r.IntN(100); {
		case p < 60:
			h := zd.hosts[r.IntN(len(zd.hosts))]
			query(w, h.name, h.types[r.IntN(len(h.types))])
		case p < 85:
			query(w, u.next()+"."+zd.origin, dns.TypeA)
		case p < 90:
			query(w, u.next()+"."+wild, dns.TypeA)
		case p < 95:
			name, t, ok := nodata(zd, r)
			if !ok {
				return errors.New("no host lacks a type; cannot write NODATA queries")
			}
			query(w, name, t)
		default:
			query(w, fmt.Sprintf("h%d.%s", r.IntN(referralNames), sub), dns.TypeA)
		}
	}
	return nil
}

// nodata draws a host and a type from hostTypes that it does not hold. It gives up after
// a bounded number of draws (possible only in tiny zones where every host has every type).
func nodata(zd zoneData, r *rand.Rand) (string, uint16, bool) {
	for range 1000 {
		h := zd.hosts[r.IntN(len(zd.hosts))]
		if len(h.types) == len(hostTypes) {
			continue
		}
		var absent []uint16
		for _, t := range hostTypes {
			if !slices.Contains(h.types, t) {
				absent = append(absent, t)
			}
		}
		return h.name, absent[r.IntN(len(absent))], true
	}
	return "", 0, false
}
