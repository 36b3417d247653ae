package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DefaultPeerCheck is how often, by default, an instance cut off from etcd compares each
// zone's DNSKEY RRset with the other instances'.
const DefaultPeerCheck = 3 * time.Second

// peerTimeout bounds one DNS question to a peer.
const peerTimeout = time.Second

// checkPeers compares, every PeerCheck while this instance cannot reach etcd, each zone's
// DNSKEY RRset with those the other instances serve (asked over DNS at the addresses of their
// last presence reports). Cut off from etcd, an instance cannot know that the leader moved
// on (its lease ran out, so the leader stopped waiting for it); a peer serving another
// DNSKEY RRset shows it did, and the zone is withheld here (SERVFAIL, EDE 14) rather than
// served with a ring validators may no longer accept. When every peer that answers agrees,
// or none answers (all of etcd down, or this instance alone), it goes on serving. A
// difference must be seen in two rounds in a row, so that a change still on its way to the
// peers when this instance lost etcd does not count. Once etcd
// answers again, the revisions decide (checkStale).
func (n *Node) checkPeers(ctx context.Context) {
	tick := time.NewTicker(n.cfg.PeerCheck)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			n.comparePeers(ctx)
		case <-ctx.Done():
			return
		}
	}
}

func (n *Node) comparePeers(ctx context.Context) {
	cut := !n.EtcdUp() && !n.Leading()
	var peers []Instance
	if cut {
		n.peers.mu.Lock()
		for name, in := range n.peers.in {
			if name != n.cfg.Name && in.Addr != "" {
				peers = append(peers, in)
			}
		}
		n.peers.mu.Unlock()
		slices.SortFunc(peers, func(a, b Instance) int { return strings.Compare(a.Name, b.Name) })
	}
	silent := map[string]bool{} // peers that did not answer this round: not asked again
	for _, zone := range n.cfg.Manager.Zones() {
		why := ""
		if cut {
			why = n.differs(ctx, zone, peers, silent)
		}
		n.trackMu.Lock()
		t := n.trackOf(zone)
		was := t.peer
		switch {
		case why == "":
			t.peer, t.peerOnce = "", false
		case t.peer == "" && !t.peerOnce:
			// A ring change may be on its way to the peers as this one loses etcd: only a
			// difference seen twice in a row, a PeerCheck apart, counts.
			t.peerOnce = true
		default:
			t.peer = why
		}
		changed := t.peer != was
		n.trackMu.Unlock()
		if changed {
			n.applyHold(zone)
		}
	}
}

// differs returns why this instance's DNSKEY RRset of zone is not the one a peer serves, ""
// when every peer that answers serves the same (or none answers, or this instance serves no
// ring for the zone).
func (n *Node) differs(ctx context.Context, zone string, peers []Instance, silent map[string]bool) string {
	ring, _, ok := n.cfg.Manager.Signing(zone)
	if !ok || ring == nil {
		return ""
	}
	own := keySet(ring.DNSKEYs())
	for _, p := range peers {
		if _, serves := p.Zones[zone]; !serves || silent[p.Name] || ctx.Err() != nil {
			continue
		}
		theirs, answers, err := askDNSKEY(ctx, p.Addr, zone)
		if err != nil {
			silent[p.Name] = true
			continue
		}
		if !answers || theirs == own {
			continue
		}
		return fmt.Sprintf("cut off from etcd, and %s (%s) serves another DNSKEY RRset: the cluster's ring moved on", p.Name, p.Addr)
	}
	return ""
}

// askDNSKEY asks addr for zone's DNSKEY RRset (over TCP when the UDP answer is truncated).
// It returns the RRset as keySet makes it; answers is false when the peer does not answer for
// the zone (SERVFAIL: it withholds the zone itself, or has no data), err set when it does not
// answer at all.
func askDNSKEY(ctx context.Context, addr, zone string) (keys string, answers bool, err error) {
	q := new(dns.Msg)
	q.SetQuestion(zone, dns.TypeDNSKEY)
	q.SetEdns0(1232, true)
	var r *dns.Msg
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network, Timeout: peerTimeout}
		r, _, err = c.ExchangeContext(ctx, q, addr)
		if err != nil || !r.Truncated {
			break
		}
	}
	if err != nil {
		return "", false, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return "", false, nil
	}
	return keySet(r.Answer), true, nil
}

// keySet is a DNSKEY RRset's keys in a canonical text form (no owner case, no TTL), sorted.
func keySet(rrs []dns.RR) string {
	var keys []string
	for _, rr := range rrs {
		if k, ok := rr.(*dns.DNSKEY); ok {
			keys = append(keys, fmt.Sprintf("%d %d %d %s", k.Flags, k.Protocol, k.Algorithm, k.PublicKey))
		}
	}
	slices.Sort(keys)
	return strings.Join(keys, "\n")
}
