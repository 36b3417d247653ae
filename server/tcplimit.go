package server

import (
	"net"
	"net/netip"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// perClientListener closes at once any connection beyond max from one IP address, so that
// one client cannot take the whole connection cap (MaxTCPConns) from the others.
type perClientListener struct {
	net.Listener
	max     int
	refused prometheus.Counter

	mu    sync.Mutex
	conns map[netip.Addr]int
}

func limitPerClient(ln net.Listener, max int, refused prometheus.Counter) *perClientListener {
	return &perClientListener{Listener: ln, max: max, refused: refused, conns: map[netip.Addr]int{}}
}

func (l *perClientListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := addrOf(c.RemoteAddr())
		l.mu.Lock()
		if l.conns[ip] >= l.max {
			l.mu.Unlock()
			l.refused.Inc()
			c.Close()
			continue
		}
		l.conns[ip]++
		l.mu.Unlock()
		return &clientConn{Conn: c, l: l, ip: ip}, nil
	}
}

func (l *perClientListener) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns[ip]--; l.conns[ip] <= 0 {
		delete(l.conns, ip)
	}
}

// clientConn gives its client's slot back when closed (once, however often Close is called).
type clientConn struct {
	net.Conn
	l    *perClientListener
	ip   netip.Addr
	once sync.Once
}

func (c *clientConn) Close() error {
	c.once.Do(func() { c.l.release(c.ip) })
	return c.Conn.Close()
}
