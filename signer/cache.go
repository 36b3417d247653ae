package signer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"
)

// The signature cache.
//
// Key: a 64-bit maphash (random per-process seed) over what the signature covers and who makes
// it: the key's identity (a digest of its DNSKEY RDATA, see signingKey), algorithm and tag, the
// signer name, the owner the RRset is signed as (the wildcard for a white-lies expansion), and
// every record's type, class, TTL and RDATA in wire form, the records sorted bytewise so that
// the order a zone snapshot happens to hold them in does not matter (RFC 4034 §6.3). A changed
// record, TTL or key therefore lands on another key, and a rotated-out key's entries are never
// reached again; they age out of the LRU, so a rotation needs no flush.
//
// The key is deliberately at least as fine as the canonical form of RFC 4034 §6.2: RDATA is
// hashed as the zone holds it, not lowercased, so equal keys imply equal signed data, and two
// spellings of the same data at worst cost one extra signature.
//
// Collision guard: each entry also keeps a second 64-bit hash of the same bytes under an
// independent seed and their length; a lookup hits only if all three match. Both seeds are
// secret and random, so an attacker who controls query names cannot aim for a collision, and
// an accidental one needs 128 matching bits. Keeping the bytes themselves would cost
// hundreds of bytes per entry at a million entries for no practical gain.
type entry struct {
	sig   *dns.RRSIG
	check uint64 // second hash
	n     int    // length of the hashed bytes
	inc   int64  // inception, Unix seconds
	exp   int64  // expiration, Unix seconds
}

// span is one record's bytes (type, class, TTL, RDLENGTH, RDATA) inside keyBuf.b.
type span struct{ lo, hi int }

// keyBuf is the scratch space for building a cache key, pooled so a cache hit does not
// allocate.
type keyBuf struct {
	b     []byte
	spans []span
	h     maphash.Hash
	msg   dns.Msg   // packs one record at a time (see record)
	one   [1]dns.RR // its answer section
	wire  []byte    // what it packs into
}

var keyBufs = sync.Pool{New: func() any { return &keyBuf{b: make([]byte, 0, 1024), spans: make([]span, 0, 16)} }}

// cacheKey is what a lookup needs: the index, the check and the length.
type cacheKey struct {
	k1, check uint64
	n         int
}

// grow makes room for n more bytes after len(kb.b), returning the write offset.
func (kb *keyBuf) grow(n int) int {
	off := len(kb.b)
	kb.b = slices.Grow(kb.b, n)[:off+n]
	return off
}

func (kb *keyBuf) name(s string) error {
	off := kb.grow(256)
	end, err := dns.PackDomainName(s, kb.b, off, nil, false)
	if err != nil {
		return fmt.Errorf("pack name %q: %w", s, err)
	}
	kb.b = kb.b[:end]
	return nil
}

// key computes the cache key of rrset signed by k as owner owner.
func (s *Signer) key(kb *keyBuf, k *signingKey, zone, owner string, rrset []dns.RR) (cacheKey, error) {
	kb.b, kb.spans = kb.b[:0], kb.spans[:0]
	kb.b = binary.BigEndian.AppendUint64(kb.b, k.id)
	kb.b = append(kb.b, k.DNSKEY.Algorithm, byte(k.Tag>>8), byte(k.Tag))
	if err := kb.name(zone); err != nil {
		return cacheKey{}, err
	}
	if err := kb.name(owner); err != nil {
		return cacheKey{}, err
	}
	prefix := len(kb.b)
	for _, rr := range rrset {
		if err := kb.record(rr); err != nil {
			return cacheKey{}, err
		}
	}
	b := kb.b
	slices.SortFunc(kb.spans, func(x, y span) int { return bytes.Compare(b[x.lo:x.hi], b[y.lo:y.hi]) })

	var ck cacheKey
	for i, seed := range [2]maphash.Seed{s.seed1, s.seed2} {
		kb.h.SetSeed(seed)
		kb.h.Write(b[:prefix])
		for _, sp := range kb.spans {
			kb.h.Write(b[sp.lo:sp.hi])
		}
		if i == 0 {
			ck.k1 = kb.h.Sum64()
		} else {
			ck.check = kb.h.Sum64()
		}
	}
	ck.n = len(b)
	return ck, nil
}

// record appends rr's type, class, TTL and RDATA in wire form and notes its span. The owner is
// left out: it was written once before the records.
func (kb *keyBuf) record(rr dns.RR) error {
	// Packed as the one record of a message, not with dns.PackRR, which writes the record's
	// Rdlength: zone records are shared by concurrent queries and must only be read.
	if need := headerLen + dns.Len(rr) + 1; cap(kb.wire) < need {
		kb.wire = make([]byte, need)
	}
	kb.one[0] = rr
	kb.msg.Answer = kb.one[:]
	w, err := kb.msg.PackBuffer(kb.wire[:cap(kb.wire)])
	kb.one[0], kb.msg.Answer = nil, nil // the pool must not keep the record alive
	if err != nil {
		return fmt.Errorf("pack %s %s: %w", rr.Header().Name, dns.TypeToString[rr.Header().Rrtype], err)
	}
	// Skip the header and the owner's labels up to the root octet (the name is uncompressed).
	i := headerLen
	for i < len(w) && w[i] != 0 {
		i += int(w[i]) + 1
	}
	i++
	off := len(kb.b)
	kb.b = append(kb.b, w[i:]...)
	kb.spans = append(kb.spans, span{off, len(kb.b)})
	return nil
}

// usable reports whether a cached entry may be served at now: valid already, and with at
// least refresh of its validity left.
func usable(e *entry, now time.Time, refresh time.Duration) bool {
	t := now.Unix()
	return e.inc <= t && e.exp-t >= int64(refresh/time.Second)
}

// timing returns the signature validity and refresh for ring's zone: the ring's own when it
// has them, else the Signer's.
func (s *Signer) timing(r *KeyRing) (validity, refresh time.Duration) {
	validity, refresh = s.cfg.Validity, s.cfg.Refresh
	if r.validity > 0 {
		validity = r.validity
	}
	if r.refresh > 0 {
		refresh = r.refresh
	}
	return validity, refresh
}

// sig returns k's signature over rrset as owned by owner (rrset's own owner, or for a
// white-lies wildcard expansion the wildcard, in which case the returned RRSIG is owned by the
// wildcard and the caller re-owns a copy). volatile selects the denial cache.
func (s *Signer) sig(r *KeyRing, k *signingKey, owner string, rrset []dns.RR, volatile bool, now time.Time) (*dns.RRSIG, error) {
	kb := keyBufs.Get().(*keyBuf)
	ck, err := s.key(kb, k, r.zone, owner, rrset)
	keyBufs.Put(kb)
	if err != nil {
		return nil, err
	}
	cache := s.main
	if volatile {
		cache = s.denial
	}
	validity, refresh := s.timing(r)
	if e := cached(cache, ck, now, refresh); e != nil {
		s.hits.Add(1)
		s.noteServed(e.exp, now)
		return e.sig, nil
	}
	s.misses.Add(1)
	// The parameters go to make as such, not in a struct behind a pointer: the compiler
	// would then let rrset escape with the rest, an allocation per denial.
	mk := func() (*entry, error) { return s.make(k, r.zone, owner, rrset, ck, now, validity) }
	var e *entry
	if volatile && s.firstSight(ck) {
		// First sight of this denial: sign it, do not cache it (see Signer.seen).
		e, err = mk()
	} else {
		e, err = s.signShared(cache, ck, now, refresh, mk)
	}
	if err != nil {
		return nil, err
	}
	s.noteServed(e.exp, now)
	return e.sig, nil
}

// cached returns the entry for ck when the cache holds one still usable at now.
func cached(cache *lru.Cache[uint64, *entry], ck cacheKey, now time.Time, refresh time.Duration) *entry {
	if e, ok := cache.Get(ck.k1); ok && e.check == ck.check && e.n == ck.n && usable(e, now, refresh) {
		return e
	}
	return nil
}

// firstSight reports whether ck was not seen just before (see Signer.seen), and notes it.
func (s *Signer) firstSight(ck cacheKey) bool {
	return s.seen[ck.k1%uint64(len(s.seen))].Swap(ck.k1) != ck.k1
}

// signShared makes the signature of a cache miss with mk and caches it. Concurrent misses on
// the same data wait for one signature: the flight key holds all of the cache key, so waiters
// share only a result for identical data.
func (s *Signer) signShared(cache *lru.Cache[uint64, *entry], ck cacheKey, now time.Time, refresh time.Duration, mk func() (*entry, error)) (*entry, error) {
	if s.beforeFlight != nil {
		s.beforeFlight()
	}
	var fk [20]byte
	binary.BigEndian.PutUint64(fk[0:], ck.k1)
	binary.BigEndian.PutUint64(fk[8:], ck.check)
	binary.BigEndian.PutUint32(fk[16:], uint32(ck.n))
	v, err, _ := s.flight.Do(string(fk[:]), func() (any, error) {
		if e := cached(cache, ck, now, refresh); e != nil {
			return e, nil // made by a flight that ended between our Get and Do
		}
		e, err := mk()
		if err != nil {
			return nil, err
		}
		cache.Add(ck.k1, e)
		return e, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*entry), nil
}

// make signs rrset with k. Timing: inception = now - Inception, expiration =
// now + validity - jitter, the jitter taken from the cache key so it is stable per RRset.
func (s *Signer) make(k *signingKey, zone, owner string, rrset []dns.RR, ck cacheKey, now time.Time, validity time.Duration) (*entry, error) {
	if k.Signer == nil {
		return nil, fmt.Errorf("key %d (algorithm %d) of %s has no private key", k.Tag, k.DNSKEY.Algorithm, zone)
	}
	h0 := rrset[0].Header()
	set := rrset
	if owner != h0.Name {
		// RRSIG.Sign takes the owner and the Labels field (minus the "*" label, RFC 4034
		// §3.1.3) from the first record, so sign copies owned by the wildcard; a validator
		// rebuilds the same wire form from the expansion (RFC 4035 §5.3.2).
		set = make([]dns.RR, len(rrset))
		for i, rr := range rrset {
			set[i] = dns.Copy(rr)
			set[i].Header().Name = owner
		}
	}
	var jitter time.Duration
	if s.cfg.Jitter > 0 {
		jitter = time.Duration(ck.k1 % uint64(s.cfg.Jitter))
	}
	inc := now.Add(-s.cfg.Inception)
	exp := now.Add(validity - jitter)
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Ttl: h0.Ttl},
		Algorithm:  k.DNSKEY.Algorithm,
		OrigTtl:    h0.Ttl,
		Expiration: uint32(exp.Unix()),
		Inception:  uint32(inc.Unix()),
		KeyTag:     k.Tag,
		SignerName: zone,
	}
	// Wall time of the signature itself, for the latency metric (not a clock for logic).
	t0 := time.Now()
	if err := sig.Sign(k.Signer, set); err != nil {
		return nil, fmt.Errorf("sign %s %s with key %d: %w", owner, dns.TypeToString[h0.Rrtype], k.Tag, err)
	}
	if s.cfg.ObserveSign != nil {
		s.cfg.ObserveSign(k.DNSKEY.Algorithm, time.Since(t0))
	}
	s.made[k.DNSKEY.Algorithm].Add(1)
	return &entry{sig: sig, check: ck.check, n: ck.n, inc: inc.Unix(), exp: exp.Unix()}, nil
}
