package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/signetdns/signet/statestore"
)

// Status is the cluster as etcd shows it: what `signet cluster status` prints and the admin
// API returns.
type Status struct {
	// Leader is the key leader's name, "" when there is none.
	Leader string `json:"leader"`
	// Instances are the live instances (those whose presence lease holds), by name.
	Instances []Instance `json:"instances"`
	// Zones are the newest revisions of each zone's key state in etcd.
	Zones map[string]int64 `json:"zones"`
	// Members is the health of each etcd endpoint.
	Members []Member `json:"etcd"`
	// Problems lists what an operator should look at: an instance that serves an older
	// state than etcd holds, or stopped answering for a zone because it stayed behind, a
	// ring change the leader stopped waiting for, serials that differ between instances, no
	// leader, an etcd endpoint that does not answer.
	Problems []string `json:"problems,omitempty"`
}

// Member is one etcd endpoint's health.
type Member struct {
	Endpoint string `json:"endpoint"`
	Healthy  bool   `json:"healthy"`
	Leader   bool   `json:"leader,omitempty"`
	Revision int64  `json:"revision,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ReadStatus reads the cluster's status from etcd through cli.
func ReadStatus(ctx context.Context, cli *clientv3.Client, prefix string) (*Status, error) {
	st := &Status{Zones: map[string]int64{}}
	for _, ep := range cli.Endpoints() {
		m := Member{Endpoint: ep}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		resp, err := cli.Status(sctx, ep)
		cancel()
		if err != nil {
			m.Error = err.Error()
			st.Problems = append(st.Problems, fmt.Sprintf("etcd endpoint %s does not answer", ep))
		} else {
			m.Healthy, m.Revision, m.Leader = true, resp.Header.Revision, resp.Header.MemberId == resp.Leader
		}
		st.Members = append(st.Members, m)
	}
	leader, err := leaderName(ctx, cli, prefix)
	switch {
	case errors.Is(err, errNoLeader):
		st.Problems = append(st.Problems, "no instance is the key leader: no rollover step happens")
	case err != nil:
		return nil, err
	}
	st.Leader = leader
	resp, err := cli.Get(ctx, prefix+"instances/", clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	for _, kv := range resp.Kvs {
		var in Instance
		if err := json.Unmarshal(kv.Value, &in); err != nil {
			return nil, fmt.Errorf("cluster: %s: %w", kv.Key, err)
		}
		st.Instances = append(st.Instances, in)
	}
	slices.SortFunc(st.Instances, func(a, b Instance) int { return strings.Compare(a.Name, b.Name) })
	zresp, err := cli.Get(ctx, prefix+"zones/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	for _, kv := range zresp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), prefix+"zones/")
		if zone, ok := strings.CutSuffix(rest, "/"+string(statestore.KeyState)); ok {
			st.Zones[zone] = kv.ModRevision
		}
	}
	st.Problems = append(st.Problems, st.compare()...)
	return st, nil
}

// compare lists the instances that serve an older key state than etcd holds or do not
// answer for a zone, the ring changes the leader counted from the sync timeout, and the
// zones whose serial differs between instances.
func (st *Status) compare() []string {
	var out []string
	for _, zone := range slices.Sorted(maps.Keys(st.Zones)) {
		serials := map[uint32][]string{}
		for _, in := range st.Instances {
			z, ok := in.Zones[zone]
			if !ok {
				continue
			}
			if z.StateRevision != st.Zones[zone] {
				out = append(out, fmt.Sprintf("%s serves revision %d of %s, etcd holds %d", in.Name, z.StateRevision, zone, st.Zones[zone]))
			}
			if z.Stale != "" {
				out = append(out, fmt.Sprintf("%s does not answer for %s (SERVFAIL, EDE 14): %s", in.Name, zone, z.Stale))
			}
			if recs := in.Syncs[zone]; len(recs) > 0 && len(recs[len(recs)-1].Laggards) > 0 {
				r := recs[len(recs)-1]
				out = append(out, fmt.Sprintf("the leader %s counted the last ring change of %s (revision %d) from the sync timeout: %s did not serve it in time",
					in.Name, zone, r.Revisions.State, strings.Join(r.Laggards, ",")))
			}
			if z.Serial != 0 {
				serials[z.Serial] = append(serials[z.Serial], in.Name)
			}
		}
		if len(serials) > 1 {
			var parts []string
			for s, names := range serials {
				parts = append(parts, fmt.Sprintf("%d at %s", s, strings.Join(names, ",")))
			}
			slices.Sort(parts)
			out = append(out, fmt.Sprintf("serials of %s differ: %s", zone, strings.Join(parts, "; ")))
		}
	}
	return out
}

// LocalStatus is what this instance can tell when etcd does not answer (err): the leader it
// last saw, what it serves itself, and the outage.
func (n *Node) LocalStatus(err error) *Status {
	self := n.self()
	self.Updated = time.Now().UTC()
	st := &Status{Leader: n.Leader(), Instances: []Instance{self}, Zones: map[string]int64{}}
	for _, ep := range n.cfg.Client.Endpoints() {
		st.Members = append(st.Members, Member{Endpoint: ep, Error: err.Error()})
	}
	st.Problems = []string{fmt.Sprintf("etcd does not answer (%v): every instance serves the ring it has, no rollover step happens; the leader shown is the last one seen", err)}
	return st
}
