package cookie

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"time"
)

// Lengths of the COOKIE option's parts (RFC 7873 §4).
const (
	ClientLen    = 8
	ServerLen    = 16 // the RFC 9018 server cookie
	minServerLen = 8
	maxServerLen = 32
	// OptionCode is the EDNS option code of COOKIE (RFC 7873 §8).
	OptionCode = 10
	// BadCookie is the extended rcode BADCOOKIE (RFC 7873 §8).
	BadCookie = 23
)

// Window of a cookie's timestamp (RFC 9018 §4.3): an hour old at most, five minutes in the
// future at most; older than half an hour, a fresh one is handed out.
const (
	maxAge  = 3600
	maxSkew = 300
)

// Verdict is what a query's COOKIE option says about the client.
type Verdict uint8

const (
	None       Verdict = iota // no COOKIE option
	ClientOnly                // a client cookie alone: a first contact, or a client that lost its server cookie
	Valid                     // a server cookie this server (or one sharing its secret) made, still in its window
	Invalid                   // a server cookie that is not ours, expired, or of another version
	Malformed                 // a length RFC 7873 §5.2.2 answers with FORMERR
)

// Parse splits a COOKIE option's data into its client and server parts.
func Parse(data []byte) (client, server []byte, v Verdict) {
	switch n := len(data); {
	case n == ClientLen:
		return data, nil, ClientOnly
	case n >= ClientLen+minServerLen && n <= ClientLen+maxServerLen:
		return data[:ClientLen], data[ClientLen:], Invalid // until Verify says otherwise
	}
	return nil, nil, Malformed
}

// Config configures a Jar.
type Config struct {
	// Rotate is how often the secret changes; cookies of the previous secret stay valid for
	// one period more. Default 24 h; it must be over an hour, a cookie's lifetime. Negative:
	// never (a shared secret, which all servers of a set must change together).
	Rotate time.Duration
	// Secret, when set (16 octets), is the first secret: servers of one anycast set share
	// it so that each verifies the others' cookies. Default: random.
	Secret []byte
	// Previous, when set (16 octets), is a secret whose cookies are still accepted: the one
	// a shared Secret replaced (RFC 9018 §5).
	Previous []byte
}

// DefaultRotate is the secret's default lifetime.
const DefaultRotate = 24 * time.Hour

// Jar makes and verifies server cookies. It is safe for concurrent use.
type Jar struct {
	rotate time.Duration
	mu     sync.RWMutex
	cur    [16]byte
	prev   [16]byte
	hasOld bool
	since  time.Time // when cur became current; zero until the first use
}

// New returns a Jar.
func New(cfg Config) (*Jar, error) {
	j := &Jar{rotate: cfg.Rotate}
	if j.rotate == 0 {
		j.rotate = DefaultRotate
	}
	if j.rotate > 0 && j.rotate <= time.Hour {
		return nil, errors.New("cookie secret rotation must be longer than an hour, a cookie's lifetime")
	}
	switch len(cfg.Previous) {
	case 0:
	case 16:
		copy(j.prev[:], cfg.Previous)
		j.hasOld = true
	default:
		return nil, errors.New("previous cookie secret: want 16 octets")
	}
	switch len(cfg.Secret) {
	case 0:
		if _, err := rand.Read(j.cur[:]); err != nil {
			return nil, err
		}
	case 16:
		copy(j.cur[:], cfg.Secret)
	default:
		return nil, errors.New("cookie secret: want 16 octets")
	}
	return j, nil
}

// secrets returns the current and previous secrets at now, rotating first when the current
// one has served its period.
func (j *Jar) secrets(now time.Time) (cur, prev [16]byte, hasOld bool) {
	if j.rotate < 0 {
		return j.cur, j.prev, j.hasOld // fixed at New: no lock needed
	}
	j.mu.RLock()
	due := !j.since.IsZero() && now.Sub(j.since) >= j.rotate
	cur, prev, hasOld, started := j.cur, j.prev, j.hasOld, !j.since.IsZero()
	j.mu.RUnlock()
	if started && !due {
		return cur, prev, hasOld
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	switch {
	case j.since.IsZero():
		j.since = now
	case now.Sub(j.since) >= j.rotate:
		j.prev, j.hasOld = j.cur, true
		if _, err := rand.Read(j.cur[:]); err != nil {
			// No randomness, no new secret: keep the old one rather than a predictable one.
			j.cur = j.prev
		}
		j.since = now
	}
	return j.cur, j.prev, j.hasOld
}

// Make returns the server cookie for client (the client cookie) at addr at now: version 1,
// reserved zero, the timestamp and the hash under the current secret.
func (j *Jar) Make(client []byte, addr netip.Addr, now time.Time) [ServerLen]byte {
	cur, _, _ := j.secrets(now)
	ab, n := addrBytes(addr)
	return makeCookie(&cur, client, [3]byte{}, uint32(now.Unix()), ab[:n])
}

// Verify reports whether server is a valid server cookie for client at addr at now: made by
// the current or the previous secret, version 1, its timestamp in the window. fresh is false
// when it is valid but old enough that the response should carry a new one.
func (j *Jar) Verify(client, server []byte, addr netip.Addr, now time.Time) (valid, fresh bool) {
	if len(client) != ClientLen || len(server) != ServerLen || server[0] != 1 {
		return false, false
	}
	ts := binary.BigEndian.Uint32(server[4:])
	at := uint32(now.Unix())
	age := int64(int32(at - ts)) // modulo 2^32, as RFC 9018 §4.3 asks
	if age > maxAge || age < -maxSkew {
		return false, false
	}
	var reserved [3]byte
	copy(reserved[:], server[1:4])
	cur, prev, hasOld := j.secrets(now)
	ab, n := addrBytes(addr)
	ok := hashMatches(&cur, client, reserved, ts, ab[:n], server[8:])
	if !ok && hasOld {
		ok = hashMatches(&prev, client, reserved, ts, ab[:n], server[8:])
	}
	return ok, ok && age <= maxAge/2
}

// addrBytes is the client address as RFC 9018 hashes it: 4 octets for IPv4 (an IPv4-mapped
// IPv6 address included), 16 for IPv6.
func addrBytes(a netip.Addr) ([16]byte, int) {
	a = a.Unmap()
	if a.Is4() {
		var b [16]byte
		a4 := a.As4()
		copy(b[:], a4[:])
		return b, 4
	}
	return a.As16(), 16
}

func hashMatches(secret *[16]byte, client []byte, reserved [3]byte, ts uint32, addr, hash []byte) bool {
	c := makeCookie(secret, client, reserved, ts, addr)
	return string(c[8:]) == string(hash)
}

// makeCookie is RFC 9018 §4.4: Version | Reserved | Timestamp | SipHash-2-4(Client Cookie |
// Version | Reserved | Timestamp | Client-IP, Server Secret). addr is 4 or 16 octets.
func makeCookie(secret *[16]byte, client []byte, reserved [3]byte, ts uint32, addr []byte) [ServerLen]byte {
	var in [ClientLen + 8 + 16]byte
	n := copy(in[:], client)
	in[n] = 1
	copy(in[n+1:], reserved[:])
	binary.BigEndian.PutUint32(in[n+4:], ts)
	n += 8
	n += copy(in[n:], addr)
	var out [ServerLen]byte
	out[0] = 1
	copy(out[1:4], reserved[:])
	binary.BigEndian.PutUint32(out[4:], ts)
	// The hash's octets in SipHash's own order (little-endian), as the RFC's examples show.
	binary.LittleEndian.PutUint64(out[8:], siphash24(secret, in[:n]))
	return out
}
