package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/statestore"
)

// SharedState is the cluster's state store as Join needs it: a read, and the parts of a
// transaction that create a document (statestore/etcd).
type SharedState interface {
	Load(ctx context.Context, zone string, doc statestore.Doc) ([]byte, statestore.Revision, error)
	CreateOps(zone string, doc statestore.Doc, data []byte) (clientv3.Cmp, clientv3.Op, error)
}

// SharedKeys is the cluster's keystore as Join needs it: the parts of a transaction that put
// an exported ZSK in it, encrypted to the cluster's recipients (keystore/etcd).
type SharedKeys interface {
	ImportOps(m keystore.Meta, pkcs8 []byte) ([]clientv3.Cmp, []clientv3.Op, error)
}

// JoinConfig is what Join needs: the single server's stores and the cluster's.
type JoinConfig struct {
	// Client and Prefix are the cluster's etcd and its keys' prefix ("/signet/<cluster>/").
	Client *clientv3.Client
	Prefix string
	// Zones are the zones to import, canonical names.
	Zones []string
	// Local is the single server's state store (its state directory's zones); Join rewrites
	// each imported zone's key state there to the cluster's form.
	Local statestore.Store
	// Keys is the single server's software keystore, which holds the ZSKs.
	Keys keystore.Exporter
	// Shared, SharedKeys and SharedBackend are the cluster's state store, its keystore and
	// that keystore's Meta.Backend.
	Shared        SharedState
	SharedKeys    SharedKeys
	SharedBackend string
}

// JoinOutcome says what Join did with one zone.
type JoinOutcome string

// The outcomes of a zone.
const (
	// JoinImported: its key state, pre-made signatures and ZSKs were written to etcd, in one
	// transaction.
	JoinImported JoinOutcome = "imported"
	// JoinedBefore: etcd holds this very key state already (an earlier join that stopped
	// before the end imported it); nothing was written to etcd.
	JoinedBefore JoinOutcome = "imported before"
	// JoinNoState: the state directory holds no key state for it (never signed); the
	// cluster's leader makes its keys, if its policy asks for them.
	JoinNoState JoinOutcome = "no key state"
)

// Joined is one zone's outcome.
type Joined struct {
	Zone    string
	Outcome JoinOutcome
	ZSKs    int // the ZSKs imported
}

// Join makes a stopped single server the first member of a cluster: it imports, once, each
// zone's key state, pre-made KSK signatures and ZSKs into etcd, so that the server, started
// with the cluster's configuration, leads with the keys it had (the same DNSKEY RRset: the
// parent's DS stays valid). The ZSKs are decrypted from the local keystore in memory only
// and encrypted to the cluster's recipients; the KSKs stay in the local keystore.
//
// Each zone is one etcd transaction, which also checks that no instance leads the cluster
// and that etcd holds nothing of the zone: a zone is imported whole or not at all. A join
// that stopped half-way is completed by running it again: the zones imported already are
// recognised (etcd holds the same key state) and skipped. A zone whose key state in etcd
// differs is an error naming it; nothing is ever overwritten. A join while an instance
// leads is refused, naming it. When nothing is left to import, Join returns ErrJoined, or
// ErrNothingToJoin when no zone has a key state.
func Join(ctx context.Context, cfg JoinConfig) ([]Joined, error) {
	if err := noLeader(ctx, cfg.Client, cfg.Prefix); err != nil {
		return nil, err
	}
	var out []Joined
	imported, before := 0, 0
	for _, zone := range cfg.Zones {
		j, err := joinZone(ctx, cfg, zone)
		if err != nil {
			return out, err
		}
		out = append(out, j)
		switch j.Outcome {
		case JoinImported:
			imported++
		case JoinedBefore:
			before++
		}
	}
	switch {
	case imported > 0:
		return out, nil
	case before > 0:
		return out, ErrJoined
	}
	return out, ErrNothingToJoin
}

var (
	// ErrJoined: etcd already holds the key state of every zone that has one; nothing was
	// imported.
	ErrJoined = errors.New("cluster: etcd already holds the key state of every zone of this state directory (it was joined before): nothing to import")
	// ErrNothingToJoin: no zone has a key state in the state directory.
	ErrNothingToJoin = errors.New("cluster: no zone has a key state in this state directory: nothing to import (a new cluster's leader makes the keys)")
)

// noLeader fails, naming the leader, when an instance leads the cluster.
func noLeader(ctx context.Context, cli *clientv3.Client, prefix string) error {
	name, err := leaderName(ctx, cli, prefix)
	switch {
	case errors.Is(err, errNoLeader):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("cluster: instance %q leads the cluster: a join imports a single server into a cluster that is not running (stop every instance first; to add a member to a running cluster, start it with the cluster's configuration)", name)
}

func joinZone(ctx context.Context, cfg JoinConfig, zone string) (Joined, error) {
	local, localRev, err := cfg.Local.Load(ctx, zone, statestore.KeyState)
	if errors.Is(err, statestore.ErrNotFound) {
		return Joined{Zone: zone, Outcome: JoinNoState}, nil
	}
	if err != nil {
		return Joined{}, fmt.Errorf("zone %s: %w", zone, err)
	}
	shared, zsks, shareErr := keymgr.ShareState(zone, local, cfg.SharedBackend)
	member := errors.Is(shareErr, keymgr.ErrMemberCopy)
	if member {
		shared = local // compared with etcd's as it is
	} else if shareErr != nil {
		return Joined{}, shareErr
	}
	held, _, err := cfg.Shared.Load(ctx, zone, statestore.KeyState)
	switch {
	case err == nil && bytes.Equal(held, shared):
		if !member {
			if err := keepShared(ctx, cfg, zone, shared, localRev); err != nil {
				return Joined{}, err
			}
		}
		return Joined{Zone: zone, Outcome: JoinedBefore}, nil
	case err == nil:
		return Joined{}, fmt.Errorf("cluster: zone %s: etcd already holds a key state of the zone, not this state directory's: refusing to overwrite it (to serve the cluster's keys, start this server as a new member instead)", zone)
	case !errors.Is(err, statestore.ErrNotFound):
		return Joined{}, fmt.Errorf("zone %s: %w", zone, err)
	case member:
		return Joined{}, fmt.Errorf("cluster: %w, and etcd has no key state of the zone: only a single server's state can be imported", shareErr)
	}
	cmps, ops, err := zoneOps(ctx, cfg, zone, shared, zsks)
	if err != nil {
		return Joined{}, err
	}
	resp, err := cfg.Client.Txn(ctx).If(cmps...).Then(ops...).Commit()
	if err != nil {
		return Joined{}, fmt.Errorf("cluster: zone %s: etcd: %w (nothing of the zone was written; run the join again)", zone, err)
	}
	if !resp.Succeeded {
		if err := noLeader(ctx, cfg.Client, cfg.Prefix); err != nil {
			return Joined{}, fmt.Errorf("zone %s not imported: %w", zone, err)
		}
		return Joined{}, fmt.Errorf("cluster: zone %s: etcd's key state, pre-made signatures or keys of the zone appeared while it was being imported: nothing of the zone was written", zone)
	}
	if err := keepShared(ctx, cfg, zone, shared, localRev); err != nil {
		return Joined{}, err
	}
	return Joined{Zone: zone, Outcome: JoinImported, ZSKs: len(zsks)}, nil
}

// zoneOps returns the transaction that imports one zone: no leader, nothing of the zone in
// etcd, then its two documents and its ZSKs.
func zoneOps(ctx context.Context, cfg JoinConfig, zone string, state []byte, zsks []string) ([]clientv3.Cmp, []clientv3.Op, error) {
	// The election's keys are <prefix>leader/<lease>: none may exist.
	cmps := []clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(cfg.Prefix+"leader/"), "=", 0).WithPrefix()}
	var ops []clientv3.Op
	c, o, err := cfg.Shared.CreateOps(zone, statestore.KeyState, state)
	if err != nil {
		return nil, nil, err
	}
	cmps, ops = append(cmps, c), append(ops, o)
	premade, _, err := cfg.Local.Load(ctx, zone, statestore.Premade)
	if err != nil && !errors.Is(err, statestore.ErrNotFound) {
		return nil, nil, fmt.Errorf("zone %s: %w", zone, err)
	}
	c, o, err = cfg.Shared.CreateOps(zone, statestore.Premade, premade)
	if err != nil {
		return nil, nil, err
	}
	cmps = append(cmps, c)
	if premade != nil {
		ops = append(ops, o)
	}
	for _, id := range zsks {
		err := cfg.Keys.Export(ctx, id, func(m keystore.Meta, pkcs8 []byte) error {
			if m.Zone != zone || m.Role != keystore.ZSK {
				return fmt.Errorf("the keystore holds it as a %s of %s", m.Role, m.Zone)
			}
			kc, ko, err := cfg.SharedKeys.ImportOps(m, pkcs8)
			cmps, ops = append(cmps, kc...), append(ops, ko...)
			return err
		})
		if err != nil {
			return nil, nil, fmt.Errorf("cluster: zone %s: ZSK %s: %w", zone, id, err)
		}
	}
	return cmps, ops, nil
}

// keepShared writes the cluster's form of the key state to the state directory, which from
// now on is a member's copy of the cluster's state (read when etcd does not answer at a
// start).
func keepShared(ctx context.Context, cfg JoinConfig, zone string, shared []byte, prev statestore.Revision) error {
	if _, err := cfg.Local.Save(ctx, zone, statestore.KeyState, shared, prev); err != nil {
		return fmt.Errorf("zone %s: imported into etcd, but its copy in the state directory: %w (run the join again)", zone, err)
	}
	return nil
}
