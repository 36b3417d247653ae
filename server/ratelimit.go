package server

import (
	"net"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/cookie"
	"github.com/signetdns/signet/rrl"
)

// limitUDP is the rate-limiting step of a UDP response about to be sent to from, for query:
// it returns resp, its truncated slip form, a BADCOOKIE, or nil to send nothing (see package
// rrl). A query with a valid server cookie is not limited: its address is not spoofed. A
// limited query with a client cookie gets BADCOOKIE with a server cookie instead of silence,
// so that a real client learns a cookie and is answered from then on. TCP answers never pass
// here: a client that completed a TCP handshake is not spoofed either.
func (h *Handler) limitUDP(from net.Addr, query, resp []byte) []byte {
	l := h.cfg.RRL
	if l == nil || resp == nil {
		return resp
	}
	client := addrOf(from)
	if !client.IsValid() {
		return resp
	}
	var clientCookie []byte
	v := cookie.None
	if h.cfg.Cookies != nil {
		if clientCookie, v = h.cookieOf(query, client); v == cookie.Valid {
			return resp
		}
	}
	switch l.Check(client, rrl.KindOf(resp), h.cfg.Now().UnixNano()) {
	case rrl.Send:
		return resp
	case rrl.Slip:
		if clientCookie == nil {
			return rrl.Truncate(resp)
		}
	case rrl.Drop:
		if clientCookie == nil {
			return nil
		}
	}
	h.metrics.badCookies.Inc()
	return h.badCookie(resp, clientCookie, client)
}

// addrOf is a UDP or TCP peer's IP address, without allocating; invalid for other kinds.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr()
	case *net.TCPAddr:
		return a.AddrPort().Addr()
	}
	return netip.Addr{}
}

// observeRRL exports the limiter's counts: responses dropped and slipped, by kind.
func (m *Metrics) observeRRL(l *rrl.Limiter) {
	if m.reg == nil || l == nil {
		return
	}
	m.reg.MustRegister(m.badCookies)
	for _, k := range rrl.Kinds() {
		labels := func(action string) prometheus.Labels { return prometheus.Labels{"kind": k.String(), "action": action} }
		m.reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "signet_rrl_limited_total", Help: "UDP responses over the rate limit, by response kind and action (dropped, or slipped: sent truncated).",
				ConstLabels: labels("dropped"),
			}, func() float64 { _, d, _ := l.Counts(k); return float64(d) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "signet_rrl_limited_total", Help: "UDP responses over the rate limit, by response kind and action (dropped, or slipped: sent truncated).",
				ConstLabels: labels("slipped"),
			}, func() float64 { _, _, s := l.Counts(k); return float64(s) }),
		)
	}
}
