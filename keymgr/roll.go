package keymgr

import (
	"context"
	"errors"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

// ConfirmDS records an operator's word that the parent now publishes the DS of the KSK
// named name and no longer those of the KSKs it replaces (`signet ksk ds-seen`), for a parent
// that cannot be queried or when the queries disagree. The planner then stops querying the
// parent for this rollover and, after the parent's DS TTL, retires the old KSK. It is
// refused (InvalidKeySigningKeyStatus) for a KSK that is not waiting for its DS.
func (m *Manager) ConfirmDS(ctx context.Context, zoneName, name string) error {
	return m.do(ctx, zoneName, func(z *zone, now time.Time) error {
		k, err := z.findKSK(z.st, name)
		if err != nil {
			return err
		}
		keys, err := rollover.ConfirmDS(z.st.timelines(), k.ID, now)
		if errors.Is(err, rollover.ErrNoKey) {
			return errorf(CodeInvalidKeySigningKeyStatus, "KSK %s is not waiting for its DS at the parent (only a KSK rolled in automatically is, once it is ready)", name)
		}
		if err != nil {
			return err
		}
		if _, err := m.storeTimelines(ctx, z, keys, now, nil, false); err != nil {
			return err
		}
		m.log.Info("operator confirmed the DS change at the parent", "zone", z.name, "ksk", name)
		if z.failure == "" && !z.failing() {
			m.plan(ctx, z, now) // schedules the swap at once, so the answer shows it
		}
		return nil
	})
}

// Rollover starts a rollover of role now, whatever the key's lifetime (`signet ksk|zsk
// rollover ZONE --now`): the fastest sequence that keeps every cached answer valid
// (rollover.Emergency). A KSK rollover needs automatic KSK rollover for the zone
// (InvalidArgument otherwise: roll by hand with Route 53's procedure); a rollover of the
// same role already running is refused (ConcurrentModification), since it already is the
// fastest way out.
func (m *Manager) Rollover(ctx context.Context, zoneName string, role keystore.Role) error {
	return m.do(ctx, zoneName, func(z *zone, now time.Time) error {
		if z.st == nil || !z.st.Signing {
			return errorf(CodeInvalidSigningStatus, "zone %s is not signed", z.name)
		}
		if err := z.checkNoInternalFailure(); err != nil {
			return err
		}
		if z.failing() {
			return errorf(CodeInvalidKeySigningKeyStatus, "a KSK of zone %s cannot sign: no new key can be published until it does", z.name)
		}
		p := z.rolloverPolicy()
		actions, err := rollover.Emergency(z.st.timelines(), role, p, now)
		switch {
		case errors.Is(err, rollover.ErrManualKSK):
			return errorf(CodeInvalidArgument, "zone %s rolls its KSK by hand (ksk-rollover: manual): create a second KSK, change the DS at the parent, then deactivate the old KSK", z.name)
		case errors.Is(err, rollover.ErrRolloverInProgress):
			return errorf(CodeConcurrentModification, "a %v rollover of zone %s is already in progress", role, z.name)
		case err != nil:
			return errorf(CodeInvalidArgument, "%v", err)
		}
		for _, a := range actions {
			if err := m.execute(ctx, z, a, p, now); err != nil {
				return err
			}
		}
		m.plan(ctx, z, now)
		return nil
	})
}
