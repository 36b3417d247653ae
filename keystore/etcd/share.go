package etcd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"filippo.io/age"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/internal/keyutil"
)

// recipientSet is the cluster's recipients and their names (sorted, one a line), the names
// being what each key's recipients record holds.
type recipientSet struct {
	list  []age.Recipient
	names string
}

// newRecipientSet names rcpts by their age1... strings: a recipient without one (not an
// X25519 recipient) cannot be recorded, so it is refused.
func newRecipientSet(rcpts []age.Recipient) (*recipientSet, error) {
	if len(rcpts) == 0 {
		return nil, errors.New("keystore: the etcd keystore needs the cluster's age recipients")
	}
	names := make([]string, 0, len(rcpts))
	for _, r := range rcpts {
		n, ok := r.(fmt.Stringer)
		if !ok {
			return nil, fmt.Errorf("keystore: recipient %T has no age1... form: the etcd keystore takes X25519 recipients", r)
		}
		names = append(names, n.String())
	}
	slices.Sort(names)
	names = slices.Compact(names)
	return &recipientSet{list: slices.Clone(rcpts), names: strings.Join(names, "\n")}, nil
}

// SetRecipients replaces the recipients that keys are encrypted to from now on (a reload of
// the configuration). The keys already in etcd keep theirs until Reencrypt.
func (s *Store) SetRecipients(rcpts []age.Recipient) error {
	set, err := newRecipientSet(rcpts)
	if err != nil {
		return err
	}
	s.recipients.Store(set)
	return nil
}

// ImportOps returns the comparisons and the writes, for one etcd transaction the caller
// commits, that put a ZSK another store exported (keystore.Exporter) into this store under
// the same ID and creation time, encrypted to the recipients: the comparisons hold while no
// key of that ID exists. A KSK is refused: KSK private keys never go to the shared store.
// pkcs8 is neither kept nor wiped: it is the exporter's.
func (s *Store) ImportOps(m keystore.Meta, pkcs8 []byte) ([]clientv3.Cmp, []clientv3.Op, error) {
	if s.closed.Load() {
		return nil, nil, keystore.ErrClosed
	}
	if err := keyutil.Validate(m); err != nil {
		return nil, nil, fmt.Errorf("keystore: import key %s: %w", m.ID, err)
	}
	if m.Role != keystore.ZSK {
		return nil, nil, fmt.Errorf("keystore: key %s of %s is a %s: only ZSKs go to the shared store (a KSK stays in its own keystore)", m.ID, m.Zone, m.Role)
	}
	if !keyutil.SupportedSoftware(m.Algorithm) {
		return nil, nil, fmt.Errorf("keystore: import key %s: algorithm %d: %w", m.ID, m.Algorithm, keystore.ErrUnsupportedAlgorithm)
	}
	if _, err := keyutil.ParsePKCS8(pkcs8, m.Algorithm); err != nil {
		return nil, nil, fmt.Errorf("keystore: import key %s: %w", m.ID, err)
	}
	rs := s.recipients.Load()
	sealed, err := keyutil.Seal(pkcs8, rs.list...)
	if err != nil {
		return nil, nil, err
	}
	m.Backend = Backend
	mj, err := json.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: encode metadata: %w", err)
	}
	cmps := []clientv3.Cmp{
		clientv3.Compare(clientv3.CreateRevision(s.metaKey(m.ID)), "=", 0),
		clientv3.Compare(clientv3.CreateRevision(s.keyKey(m.ID)), "=", 0),
	}
	ops := []clientv3.Op{clientv3.OpPut(s.metaKey(m.ID), string(mj)), clientv3.OpPut(s.keyKey(m.ID), string(sealed)),
		clientv3.OpPut(s.rcptKey(m.ID), rs.names)}
	return cmps, ops, nil
}

// stored is what etcd holds of one key, as Reencrypt reads it.
type stored struct {
	meta, sealed []byte
	sealedRev    int64
	recipients   string
	recorded     bool // a recipients record exists
}

// Reencrypt encrypts again, to the current recipients, every key whose recipients record
// differs from them (or that has none): a member added to the cluster can then read the
// keys that existed before it, and a member removed can no longer read what etcd holds from
// now on. Only the key leader calls it; each key is one transaction under the store's
// guard, that also compares the ciphertext's revision, so a key deleted or replaced
// meanwhile is left alone. The check reads the store once and decrypts nothing when every
// record matches. It returns how many keys it encrypted again; a key this instance cannot
// decrypt is an error naming it, and the others are still done.
func (s *Store) Reencrypt(ctx context.Context) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	rs := s.recipients.Load()
	resp, err := s.cli.Get(ctx, s.prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("keystore: etcd: %w", err)
	}
	keys := map[string]*stored{}
	at := func(id string) *stored {
		if keys[id] == nil {
			keys[id] = &stored{}
		}
		return keys[id]
	}
	for _, kv := range resp.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), s.prefix)
		if id, ok := strings.CutSuffix(rest, metaSuffix); ok {
			at(id).meta = kv.Value
		} else if id, ok := strings.CutSuffix(rest, keySuffix); ok {
			at(id).sealed, at(id).sealedRev = kv.Value, kv.ModRevision
		} else if id, ok := strings.CutSuffix(rest, rcptSuffix); ok {
			at(id).recipients, at(id).recorded = string(kv.Value), true
		}
	}
	n := 0
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		k := keys[id]
		if k.meta == nil || k.sealed == nil || (k.recorded && k.recipients == rs.names) {
			continue
		}
		err := s.reseal(ctx, id, k, rs)
		switch {
		case errors.Is(err, errConflict):
			continue // changed meanwhile: the next pass sees it as it is
		case errors.Is(err, ErrNotLeader):
			return n, err
		case err != nil:
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// reseal decrypts one key's ciphertext and encrypts it to rs, in memory only, and writes it
// with its recipients record if the ciphertext is still the one read.
func (s *Store) reseal(ctx context.Context, id string, k *stored, rs *recipientSet) error {
	der, err := keyutil.Unseal(bytes.NewReader(k.sealed), s.keyKey(id), s.identities...)
	if errors.Is(err, keystore.ErrWrongPassphrase) {
		return fmt.Errorf("keystore: cannot encrypt key %s again: it is not encrypted to this instance's identity (a leader whose recipient was added after the key was made; another instance that can read it must lead once): %w", id, err)
	}
	if err != nil {
		return err
	}
	sealed, err := keyutil.Seal(der, rs.list...)
	clear(der)
	if err != nil {
		return err
	}
	err = s.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.keyKey(id)), "=", k.sealedRev)},
		clientv3.OpPut(s.keyKey(id), string(sealed)), clientv3.OpPut(s.rcptKey(id), rs.names))
	if err != nil {
		return err
	}
	s.keep(id, k.meta, sealed)
	return nil
}

// Changes signals (coalesced, never blocking the watch) each time a key's ciphertext is
// written in etcd after Changes was called: a follower that could not decrypt a key tries
// again once the leader has encrypted it to this instance. The channel closes when ctx ends;
// a watch that etcd ends is started again from where it was.
func (s *Store) Changes(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	// The revision now, so that a write right after the call is reported even if the watch
	// is not yet set up in etcd; when etcd does not answer, from whenever the watch starts.
	var from int64
	gctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	if resp, err := s.cli.Get(gctx, s.prefix, clientv3.WithPrefix(), clientv3.WithCountOnly()); err == nil {
		from = resp.Header.Revision + 1
	}
	cancel()
	go func() {
		defer close(ch)
		for ctx.Err() == nil {
			from = s.watchKeys(ctx, ch, from)
			select {
			case <-time.After(rewatchDelay):
			case <-ctx.Done():
			}
		}
	}()
	return ch
}

// rewatchDelay spaces the restarts of a watch that etcd ended.
const rewatchDelay = 200 * time.Millisecond

// watchKeys signals on ch for each response with a new ciphertext, from revision from (0:
// now), until the watch ends, and returns the revision to go on from.
func (s *Store) watchKeys(ctx context.Context, ch chan<- struct{}, from int64) int64 {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithFilterDelete()}
	if from > 0 {
		opts = append(opts, clientv3.WithRev(from))
	}
	for resp := range s.cli.Watch(wctx, s.prefix, opts...) {
		if resp.CompactRevision != 0 {
			// Revisions missed: signal, since a key may have changed among them.
			from = 0
			signal(ch)
			return from
		}
		if resp.Err() != nil {
			return from
		}
		for _, ev := range resp.Events {
			if strings.HasSuffix(string(ev.Kv.Key), keySuffix) {
				signal(ch)
				break
			}
		}
		from = resp.Header.Revision + 1
	}
	return from
}

func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
