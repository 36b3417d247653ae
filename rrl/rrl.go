package rrl

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Kind is the class of a response for rate limiting: floods of one kind do not eat the
// tokens of another (a random-name flood's denials leave the answers alone).
type Kind uint8

const (
	Answer   Kind = iota // NOERROR with records in the answer section
	Denial               // NXDOMAIN, or NOERROR without an answer (NODATA, compact denial)
	Referral             // NOERROR, AA clear, records in the authority section
	Error                // any other rcode (REFUSED, FORMERR, SERVFAIL, ...)
	numKinds
)

var kindNames = [numKinds]string{"answer", "denial", "referral", "error"}

func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

// Kinds lists every kind, for metrics.
func Kinds() []Kind { return []Kind{Answer, Denial, Referral, Error} }

// Action says what to do with a response.
type Action uint8

const (
	Send Action = iota // within the rate
	Drop               // over the rate: send nothing
	Slip               // over the rate: send it truncated (see Truncate)
)

// Config configures a Limiter. Zero fields take the defaults.
type Config struct {
	// ResponsesPerSecond is the rate each client network gets for each kind, and the bucket's
	// depth (one second of burst). Default DefaultResponsesPerSecond.
	ResponsesPerSecond int
	// Slip sends every Slip-th limited response truncated instead of dropping it; 1 truncates
	// them all, a negative value drops them all. Default DefaultSlip.
	Slip int
	// IPv4PrefixLen and IPv6PrefixLen group clients into networks. Defaults 24 and 56.
	IPv4PrefixLen, IPv6PrefixLen int
	// Buckets is the size of the table of buckets. Default DefaultBuckets.
	Buckets int
}

// Defaults, as BIND and Knot ship them (Knot: rate-limit 20, slip 2).
const (
	DefaultResponsesPerSecond = 20
	DefaultSlip               = 2
	DefaultIPv4PrefixLen      = 24
	DefaultIPv6PrefixLen      = 56
	DefaultBuckets            = 1 << 16
)

func (c Config) withDefaults() Config {
	if c.ResponsesPerSecond <= 0 {
		c.ResponsesPerSecond = DefaultResponsesPerSecond
	}
	if c.Slip == 0 {
		c.Slip = DefaultSlip
	}
	if c.IPv4PrefixLen <= 0 || c.IPv4PrefixLen > 32 {
		c.IPv4PrefixLen = DefaultIPv4PrefixLen
	}
	if c.IPv6PrefixLen <= 0 || c.IPv6PrefixLen > 128 {
		c.IPv6PrefixLen = DefaultIPv6PrefixLen
	}
	if c.Buckets <= 0 {
		c.Buckets = DefaultBuckets
	}
	return c
}

// shards spread the buckets over locks, so that readers on different cores rarely wait.
const shards = 64

// Limiter decides, response by response, whether a client network is over its rate. It is
// safe for concurrent use.
type Limiter struct {
	cfg     Config
	seed    maphash.Seed
	perNano float64 // tokens added per nanosecond
	shards  [shards]shard
	counts  [numKinds][3]atomic.Uint64 // by kind and action
}

type shard struct {
	mu      sync.Mutex
	buckets []bucket
	_       [40]byte // keeps neighbouring shards' locks off one cache line
}

// bucket is one network's and kind's tokens. key tells which network and kind it holds now:
// the table is a hash table without chaining, and a newcomer takes over a bucket only once it
// is full again (its previous owner has been quiet), so that a flood cannot reset a limited
// network's bucket by colliding with it.
type bucket struct {
	key    uint64
	last   int64 // nanoseconds of the last refill
	tokens float64
	slip   uint32 // limited responses since the last slip
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	c := cfg.withDefaults()
	l := &Limiter{cfg: c, seed: maphash.MakeSeed(), perNano: float64(c.ResponsesPerSecond) / 1e9}
	per := (c.Buckets + shards - 1) / shards
	for i := range l.shards {
		l.shards[i].buckets = make([]bucket, per)
	}
	return l
}

// Config returns the limiter's settings, defaults filled in.
func (l *Limiter) Config() Config { return l.cfg }

// Check takes a token for a response of kind to client at now (Unix nanoseconds) and says
// what to do with it.
func (l *Limiter) Check(client netip.Addr, kind Kind, now int64) Action {
	a := l.check(l.key(client, kind), now)
	if kind < numKinds {
		l.counts[kind][a].Add(1)
	}
	return a
}

func (l *Limiter) check(key uint64, now int64) Action {
	sh := &l.shards[key%shards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := &sh.buckets[(key/shards)%uint64(len(sh.buckets))]
	depth := float64(l.cfg.ResponsesPerSecond)
	if b.key != key {
		b.refill(now, l.perNano, depth)
		if b.last != 0 && b.tokens < depth {
			// The bucket is another network's and still in use: share it, which limits
			// both more, never less.
			return l.take(b)
		}
		*b = bucket{key: key, last: now, tokens: depth}
	}
	b.refill(now, l.perNano, depth)
	return l.take(b)
}

func (b *bucket) refill(now int64, perNano, depth float64) {
	if now > b.last {
		b.tokens = min(depth, b.tokens+float64(now-b.last)*perNano)
		b.last = now
	}
}

func (l *Limiter) take(b *bucket) Action {
	if b.tokens >= 1 {
		b.tokens--
		return Send
	}
	if l.cfg.Slip < 0 {
		return Drop
	}
	b.slip++
	if b.slip >= uint32(l.cfg.Slip) {
		b.slip = 0
		return Slip
	}
	return Drop
}

// key hashes the client's network and the kind.
func (l *Limiter) key(client netip.Addr, kind Kind) uint64 {
	client = client.Unmap()
	bits := l.cfg.IPv6PrefixLen
	if client.Is4() {
		bits = l.cfg.IPv4PrefixLen
	}
	p, err := client.Prefix(bits)
	if err != nil {
		return 0
	}
	a := p.Addr().As16()
	var buf [17]byte
	copy(buf[:], a[:])
	buf[16] = byte(kind)
	return maphash.Bytes(l.seed, buf[:])
}

// Counts returns how many responses of kind were sent, dropped and slipped so far.
func (l *Limiter) Counts(kind Kind) (sent, dropped, slipped uint64) {
	if kind >= numKinds {
		return 0, 0, 0
	}
	c := &l.counts[kind]
	return c[Send].Load(), c[Drop].Load(), c[Slip].Load()
}

// KindOf classifies a packed response.
func KindOf(resp []byte) Kind {
	if len(resp) < 12 {
		return Error
	}
	switch rcode := resp[3] & 0xF; {
	case rcode == 3:
		return Denial
	case rcode != 0:
		return Error
	}
	an, ns := binary.BigEndian.Uint16(resp[6:]), binary.BigEndian.Uint16(resp[8:])
	aa := resp[2]&0x04 != 0
	switch {
	case an > 0:
		return Answer
	case !aa && ns > 0:
		return Referral
	}
	return Denial
}

// Truncate turns a packed response into its slip form in place: the header with TC set and
// the question, no records (the client retries over TCP). It returns the shortened slice, or
// nil when the response is too malformed to cut.
func Truncate(resp []byte) []byte {
	if len(resp) < 12 {
		return nil
	}
	end := 12
	if binary.BigEndian.Uint16(resp[4:]) > 0 {
		n, ok := nameEnd(resp, 12)
		if !ok || n+4 > len(resp) {
			return nil
		}
		end = n + 4
		binary.BigEndian.PutUint16(resp[4:], 1)
	}
	resp[2] |= 0x02 // TC
	clear(resp[6:12])
	return resp[:end]
}

// nameEnd returns the offset just past the (possibly compressed) name at off.
func nameEnd(msg []byte, off int) (int, bool) {
	for off < len(msg) {
		c := int(msg[off])
		switch {
		case c == 0:
			return off + 1, true
		case c&0xC0 == 0xC0:
			return off + 2, off+2 <= len(msg)
		case c&0xC0 != 0:
			return 0, false
		}
		off += c + 1
	}
	return 0, false
}
