package signer

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// RingOptions says what a KeyRing publishes beyond the DNSKEY RRset.
type RingOptions struct {
	// DNSKEYTTL is the TTL of the DNSKEY, CDS and CDNSKEY RRsets. Default 3600.
	DNSKEYTTL uint32
	// CDS publishes CDS (SHA-256) and CDNSKEY records (RFC 7344) for the KSKs: those listed in
	// CDSKeys, or when CDSKeys is empty every active KSK.
	CDS bool
	// CDSKeys optionally restricts CDS/CDNSKEY to these key tags (a KSK rollover drives it).
	CDSKeys []uint16
	// Delete publishes the RFC 8078 §4 delete sentinels (CDS 0 0 0 00, CDNSKEY 0 3 0 AA==)
	// instead, asking the parent to remove the DS (disabling DNSSEC). It overrides CDS.
	Delete bool
	// KSKSigs are pre-made KSK signatures over the DNSKEY, CDS and CDNSKEY RRsets, from
	// PremakeKSKSigs over the same keys and options. NewKeyRing verifies them. When nil,
	// NewKeyRing makes one signature per RRset and KSK itself, which needs the KSKs' signers.
	KSKSigs []*dns.RRSIG
	// KSKSigsDigest is, when set, the PremadeDigest of an earlier ring that served KSKSigs
	// (saved beside them). When this ring's digest of the same signatures over its own
	// RRsets is equal, the RRsets are those the signatures were verified over, and NewKeyRing
	// does not verify them again: an ECDSA verification costs more than a signature, and a
	// restart of ten thousand zones would verify fifteen per zone and KSK. Otherwise they are
	// verified as without it.
	KSKSigsDigest []byte
	// Validity and Refresh, when positive, replace the Signer's Config.Validity and
	// Config.Refresh for this zone's signatures (live, cached and pre-made), so that zones
	// served by one Signer can have their own signature lifetimes.
	Validity, Refresh time.Duration
}

// timing returns cfg with opt's per-zone overrides.
func (opt RingOptions) timing(cfg Config) Config {
	if opt.Validity > 0 {
		cfg.Validity = opt.Validity
	}
	if opt.Refresh > 0 {
		cfg.Refresh = opt.Refresh
	}
	return cfg
}

// signingKey is a Key that signs, with the identity used in cache keys: the first 8 bytes of
// SHA-256 over the DNSKEY RDATA. Deriving it from the public key (rather than drawing it at
// random per Key value) keeps the cache warm when the key manager rebuilds a ring with the
// same keys, while a different key can never share entries.
type signingKey struct {
	*Key
	id uint64
}

// KeyRing is one zone's keys and the RRsets made from them. It is immutable: the key manager
// builds a new ring and swaps it in atomically (a rotation never touches the query path), and Sign reads it without locks.
type KeyRing struct {
	zone    string
	keys    []*Key
	dnskey  []dns.RR
	cds     []dns.RR
	cdnskey []dns.RR
	zsks    []signingKey // sign everything but the key RRsets (the KSKs when no ZSK is active)
	ksks    []signingKey // sign DNSKEY, CDS and CDNSKEY
	premade []*dns.RRSIG // verified pre-made KSK signatures
	gen     uint64

	validity, refresh time.Duration // RingOptions' overrides; 0: the Signer's
}

var ringGen atomic.Uint64

// NewKeyRing builds the ring of zone from keys at now. Active ZSKs (flags 256) sign the zone's
// data, all of them, so that an algorithm rollover has every algorithm sign every RRset
// (RFC 4035 §2.2); with no active ZSK the active KSKs sign everything (a CSK). Active KSKs
// sign the DNSKEY, CDS and CDNSKEY RRsets, from opt.KSKSigs when given. Published-only keys
// (Active false) appear in the DNSKEY RRset only; Unpublished keys sign without appearing in it.
func NewKeyRing(zone string, keys []*Key, opt RingOptions, now time.Time, cfg Config) (*KeyRing, error) {
	r, err := newRing(zone, keys, opt)
	if err != nil {
		return nil, err
	}
	sigs := opt.KSKSigs
	if sigs == nil {
		if sigs, err = r.premake(now, 1, 0, opt.timing(cfg.withDefaults())); err != nil {
			return nil, err
		}
	} else if opt.KSKSigsDigest == nil || !bytes.Equal(r.digest(sigs), opt.KSKSigsDigest) {
		if err := r.verifyPremade(sigs); err != nil {
			return nil, err
		}
	}
	r.premade = sigs
	r.gen = ringGen.Add(1)
	return r, nil
}

// newRing builds the RRsets and key lists, without signatures.
func newRing(zone string, keys []*Key, opt RingOptions) (*KeyRing, error) {
	zone = dns.CanonicalName(zone)
	if opt.DNSKEYTTL == 0 {
		opt.DNSKEYTTL = 3600
	}
	r := &KeyRing{zone: zone, keys: slices.Clip(slices.Clone(keys)), validity: max(opt.Validity, 0), refresh: max(opt.Refresh, 0)}
	dks := make([]*dns.DNSKEY, len(keys))
	for i, k := range keys {
		if k == nil || k.DNSKEY == nil {
			return nil, errors.New("signer: nil key")
		}
		if dns.CanonicalName(k.DNSKEY.Hdr.Name) != zone {
			return nil, fmt.Errorf("signer: key %d is owned by %s, not %s", k.Tag, k.DNSKEY.Hdr.Name, zone)
		}
		if k.Tag != k.DNSKEY.KeyTag() {
			return nil, fmt.Errorf("signer: key tag %d does not match its DNSKEY (%d)", k.Tag, k.DNSKEY.KeyTag())
		}
		if k.KSK != (k.DNSKEY.Flags&dns.SEP != 0) {
			return nil, fmt.Errorf("signer: key %d: KSK %v but flags %d", k.Tag, k.KSK, k.DNSKEY.Flags)
		}
		dk := dns.Copy(k.DNSKEY).(*dns.DNSKEY) // the caller's record keeps its TTL
		dk.Hdr.Name, dk.Hdr.Ttl = zone, opt.DNSKEYTTL
		dks[i] = dk
		if !k.Unpublished {
			r.dnskey = append(r.dnskey, dk)
		}
		if !k.Active {
			continue
		}
		sk := signingKey{Key: k, id: keyID(dk)}
		if k.KSK {
			r.ksks = append(r.ksks, sk)
		} else {
			r.zsks = append(r.zsks, sk)
		}
	}
	if len(r.ksks) == 0 {
		return nil, fmt.Errorf("signer: zone %s has no active KSK", zone)
	}
	if len(r.zsks) == 0 {
		r.zsks = r.ksks
	}
	switch {
	case opt.Delete:
		// RFC 8078 §4: algorithm 0 with a one-octet zero digest / key.
		hdr := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: zone, Rrtype: t, Class: dns.ClassINET, Ttl: opt.DNSKEYTTL}
		}
		r.cds = []dns.RR{&dns.CDS{DS: dns.DS{Hdr: hdr(dns.TypeCDS), Digest: "00"}}}
		r.cdnskey = []dns.RR{&dns.CDNSKEY{DNSKEY: dns.DNSKEY{Hdr: hdr(dns.TypeCDNSKEY), Protocol: 3, PublicKey: "AA=="}}}
	case opt.CDS:
		for i, k := range keys {
			dk := dks[i]
			if !k.KSK || k.Unpublished || (len(opt.CDSKeys) == 0 && !k.Active) || (len(opt.CDSKeys) > 0 && !slices.Contains(opt.CDSKeys, k.Tag)) {
				continue
			}
			r.cds = append(r.cds, DS(dk).ToCDS())
			r.cdnskey = append(r.cdnskey, dk.ToCDNSKEY())
		}
	}
	return r, nil
}

func keyID(k *dns.DNSKEY) uint64 {
	pub, _ := base64.StdEncoding.DecodeString(k.PublicKey)
	h := sha256.New()
	h.Write([]byte{byte(k.Flags >> 8), byte(k.Flags), k.Protocol, k.Algorithm})
	h.Write(pub)
	return binary.BigEndian.Uint64(h.Sum(nil))
}

// DefaultPremadeStep is the spacing of pre-made KSK signatures' validity windows.
const DefaultPremadeStep = 24 * time.Hour

// PremakeKSKSigs makes, for every active KSK and each of the DNSKEY, CDS and CDNSKEY RRsets
// that zone publishes with keys and opt, n signatures whose validity windows are staggered by
// step (DefaultPremadeStep when 0): signature i has inception now+i*step-Inception and
// expiration now+i*step+Validity. Route 53 makes 15 DNSKEY signatures ahead this way, so the
// zone stays valid for days while the KSK's signer (a TPM) is unreachable. Pass the result as
// RingOptions.KSKSigs; at query time the ring serves, per RRset and KSK, the signature valid at
// that moment with the most validity left (KeyRing.PremadeValidUntil says how long that lasts).
// It fails, returning nothing, if any signature cannot be made.
func PremakeKSKSigs(zone string, keys []*Key, opt RingOptions, now time.Time, n int, step time.Duration, cfg Config) ([]*dns.RRSIG, error) {
	r, err := newRing(zone, keys, opt)
	if err != nil {
		return nil, err
	}
	return r.premake(now, n, step, opt.timing(cfg.withDefaults()))
}

// NewPremadeKeyRing is NewKeyRing with n pre-made signatures per KSK-signed RRset and active
// KSK, made as PremakeKSKSigs makes them over the ring's own RRsets; it returns them with
// the ring, to be saved. Being made over this ring's RRsets, they need no verification.
func NewPremadeKeyRing(zone string, keys []*Key, opt RingOptions, now time.Time, n int, step time.Duration, cfg Config) (*KeyRing, []*dns.RRSIG, error) {
	r, err := newRing(zone, keys, opt)
	if err != nil {
		return nil, nil, err
	}
	sigs, err := r.premake(now, n, step, opt.timing(cfg.withDefaults()))
	if err != nil {
		return nil, nil, err
	}
	r.premade = sigs
	r.gen = ringGen.Add(1)
	return r, sigs, nil
}

// PremadeDigest is a SHA-256 digest of the ring's pre-made signatures together with the
// DNSKEY, CDS and CDNSKEY RRsets they cover, in wire form: saved beside the signatures, it
// lets a later ring built from the same keys take them without verifying each
// (RingOptions.KSKSigsDigest).
func (r *KeyRing) PremadeDigest() []byte { return r.digest(r.premade) }

// digest hashes the ring's zone and KSK-signed RRsets with sigs, each record uncompressed
// in wire form behind its length, so that no two different inputs give the same stream.
func (r *KeyRing) digest(sigs []*dns.RRSIG) []byte {
	h := sha256.New()
	buf := make([]byte, 0, 512)
	put := func(rr dns.RR) {
		// PackRR writes the header's Rdlength: a ring's records are read by other
		// goroutines (answers, verification) while this runs, so pack a copy.
		rr = dns.Copy(rr)
		buf = buf[:cap(buf)]
		n, err := dns.PackRR(rr, buf, 0, nil, false)
		for err != nil && len(buf) < dns.MaxMsgSize {
			buf = make([]byte, 2*len(buf))
			n, err = dns.PackRR(rr, buf, 0, nil, false)
		}
		if err != nil {
			// Unpackable: hash its text instead, which still differs from any packed record.
			h.Write([]byte{0xff, 0xff})
			h.Write([]byte(rr.String()))
			return
		}
		h.Write([]byte{byte(n >> 8), byte(n)})
		h.Write(buf[:n])
	}
	h.Write([]byte(r.zone))
	for _, set := range [][]dns.RR{r.dnskey, r.cds, r.cdnskey} {
		h.Write([]byte{byte(len(set) >> 8), byte(len(set))})
		for _, rr := range set {
			put(rr)
		}
	}
	h.Write([]byte{byte(len(sigs) >> 8), byte(len(sigs))})
	for _, sig := range sigs {
		put(sig)
	}
	return h.Sum(nil)
}

func (r *KeyRing) premake(now time.Time, n int, step time.Duration, cfg Config) ([]*dns.RRSIG, error) {
	if n < 1 {
		return nil, fmt.Errorf("signer: premake %d signatures", n)
	}
	if step <= 0 {
		step = DefaultPremadeStep
	}
	var out []*dns.RRSIG
	for _, set := range [][]dns.RR{r.dnskey, r.cds, r.cdnskey} {
		if len(set) == 0 {
			continue
		}
		for _, k := range r.ksks {
			if k.Signer == nil {
				return nil, fmt.Errorf("signer: KSK %d of %s has no private key to sign with", k.Tag, r.zone)
			}
			for i := range n {
				at := now.Add(time.Duration(i) * step)
				sig := &dns.RRSIG{
					Hdr:        dns.RR_Header{Ttl: set[0].Header().Ttl},
					Algorithm:  k.DNSKEY.Algorithm,
					OrigTtl:    set[0].Header().Ttl,
					Inception:  uint32(at.Add(-cfg.Inception).Unix()),
					Expiration: uint32(at.Add(cfg.Validity).Unix()),
					KeyTag:     k.Tag,
					SignerName: r.zone,
				}
				if err := sig.Sign(k.Signer, set); err != nil {
					return nil, fmt.Errorf("signer: pre-sign %s %s with KSK %d: %w", r.zone, dns.TypeToString[set[0].Header().Rrtype], k.Tag, err)
				}
				out = append(out, sig)
			}
		}
	}
	return out, nil
}

// verifyPremade checks that every pre-made signature by an active KSK verifies over this
// ring's RRset, so that a stale set (made before the keys or options changed) is refused
// instead of served as a bogus answer. Signatures by keys that are not active KSKs here are
// ignored at query time.
func (r *KeyRing) verifyPremade(sigs []*dns.RRSIG) error {
	for _, sig := range sigs {
		set := r.RRset(sig.TypeCovered)
		k := r.ksk(sig.KeyTag, sig.Algorithm)
		if k == nil {
			continue
		}
		if len(set) == 0 {
			return fmt.Errorf("signer: pre-made signature covers %s, which %s does not publish", dns.TypeToString[sig.TypeCovered], r.zone)
		}
		if err := sig.Verify(k.DNSKEY, set); err != nil {
			return fmt.Errorf("signer: pre-made %s signature by KSK %d does not match the ring: %w", dns.TypeToString[sig.TypeCovered], sig.KeyTag, err)
		}
	}
	return nil
}

func (r *KeyRing) ksk(tag uint16, alg uint8) *signingKey {
	for i := range r.ksks {
		if r.ksks[i].Tag == tag && r.ksks[i].DNSKEY.Algorithm == alg {
			return &r.ksks[i]
		}
	}
	return nil
}

// pick returns the pre-made signature of type typ by k that is valid at now with the latest
// expiration, or nil.
func (r *KeyRing) pick(typ uint16, k *signingKey, now time.Time) *dns.RRSIG {
	var best *dns.RRSIG
	t := now.Unix()
	for _, sig := range r.premade {
		if sig.TypeCovered != typ || sig.KeyTag != k.Tag || sig.Algorithm != k.DNSKEY.Algorithm {
			continue
		}
		if int64(sig.Inception) > t || int64(sig.Expiration) < t {
			continue
		}
		if best == nil || sig.Expiration > best.Expiration {
			best = sig
		}
	}
	return best
}

// PremadeValidUntil returns how long the pre-made signatures keep the ring's KSK-signed
// RRsets valid: the earliest, over each RRset and active KSK, of the latest expiration among
// its pre-made signatures. The zero Time means some RRset has none. The key manager compares
// it with now to raise a KSK outage before the zone goes bogus.
func (r *KeyRing) PremadeValidUntil() time.Time {
	var until time.Time
	for _, typ := range []uint16{dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY} {
		if len(r.RRset(typ)) == 0 {
			continue
		}
		for i := range r.ksks {
			var latest uint32
			for _, sig := range r.premade {
				if sig.TypeCovered == typ && sig.KeyTag == r.ksks[i].Tag && sig.Expiration > latest {
					latest = sig.Expiration
				}
			}
			if latest == 0 {
				return time.Time{}
			}
			if t := time.Unix(int64(latest), 0); until.IsZero() || t.Before(until) {
				until = t
			}
		}
	}
	return until
}

// Premade returns the ring's pre-made KSK signatures (made by it, or verified or taken by
// digest from RingOptions.KSKSigs). They belong to the ring: do not modify them.
func (r *KeyRing) Premade() []*dns.RRSIG { return slices.Clip(r.premade) }

// Zone returns the ring's zone apex.
func (r *KeyRing) Zone() string { return r.zone }

// DNSKEYs returns the DNSKEY RRset (every key, active or published only). The records belong
// to the ring: do not modify them.
func (r *KeyRing) DNSKEYs() []dns.RR { return slices.Clip(r.dnskey) }

// CDS returns the CDS RRset, empty when none is published.
func (r *KeyRing) CDS() []dns.RR { return slices.Clip(r.cds) }

// CDNSKEY returns the CDNSKEY RRset, empty when none is published.
func (r *KeyRing) CDNSKEY() []dns.RR { return slices.Clip(r.cdnskey) }

// Keys returns the ring's keys.
func (r *KeyRing) Keys() []*Key { return slices.Clip(r.keys) }

// Generation is unique per ring, increasing in creation order within a process.
func (r *KeyRing) Generation() uint64 { return r.gen }

// RRset returns the ring's RRset of type DNSKEY, CDS or CDNSKEY (nil for any other type).
func (r *KeyRing) RRset(typ uint16) []dns.RR {
	switch typ {
	case dns.TypeDNSKEY:
		return slices.Clip(r.dnskey)
	case dns.TypeCDS:
		return slices.Clip(r.cds)
	case dns.TypeCDNSKEY:
		return slices.Clip(r.cdnskey)
	}
	return nil
}
