package keymgr

import (
	"errors"
	"fmt"
)

// ErrMemberCopy is returned (wrapped) by ShareState for a state that already names a KSK in
// a cluster member's own keystore: the state directory is a member's copy of a cluster's
// state, not a single server's.
var ErrMemberCopy = errors.New("keymgr: the key state is already a cluster member's copy (its KSKs are in the member's own keystore)")

// ShareState turns zone's key state document as a single server keeps it into the document a
// cluster shares, and returns it with the IDs of the ZSKs it names: those go to the cluster's
// shared keystore. The KSKs stay where they are: a KSK of the software keystore becomes one
// of the member's own keystore (what Config.LocalKSK holds in a cluster, the same files), a
// TPM's stays the TPM's. Nothing else changes, timelines included: the cluster serves the
// DNSKEY RRset the single server served, and the parent's DS stays valid.
func ShareState(zone string, doc []byte, sharedBackend string) ([]byte, []string, error) {
	st, err := decodeState(zone, doc)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range st.KSKs {
		switch k.Store {
		case storeSoft:
			k.Store = storeLocal
		case storeTPM:
		case storeLocal:
			return nil, nil, fmt.Errorf("zone %s: KSK %s: %w", zone, k.ID, ErrMemberCopy)
		default:
			return nil, nil, fmt.Errorf("keymgr: zone %s: KSK %s: unknown store %q", zone, k.ID, k.Store)
		}
	}
	var zsks []string
	for _, k := range st.ZSKs {
		if k.Store != storeSoft {
			return nil, nil, fmt.Errorf("keymgr: zone %s: ZSK %s is in store %q, not the software keystore", zone, k.ID, k.Store)
		}
		k.Backend = sharedBackend
		zsks = append(zsks, k.ID)
	}
	out, err := encodeState(st)
	if err != nil {
		return nil, nil, err
	}
	return out, zsks, nil
}
