package server

import (
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/signetdns/signet/rrl"
)

// limitUDP is the rate-limiting step of a UDP response about to be sent to from: it returns
// resp, its truncated slip form, or nil to send nothing (see package rrl). TCP answers never
// pass here: a client that can complete a TCP handshake is not spoofed.
func (h *Handler) limitUDP(from net.Addr, resp []byte) []byte {
	l := h.cfg.RRL
	if l == nil || resp == nil {
		return resp
	}
	ua, ok := from.(*net.UDPAddr)
	if !ok {
		return resp
	}
	switch l.Check(ua.AddrPort().Addr(), rrl.KindOf(resp), h.cfg.Now().UnixNano()) {
	case rrl.Drop:
		return nil
	case rrl.Slip:
		return rrl.Truncate(resp)
	}
	return resp
}

// observeRRL exports the limiter's counts: responses dropped and slipped, by kind.
func (m *Metrics) observeRRL(l *rrl.Limiter) {
	if m.reg == nil || l == nil {
		return
	}
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
