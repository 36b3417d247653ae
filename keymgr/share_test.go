package keymgr

import (
	"errors"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

// TestShareState: a single server's KSK in the software keystore becomes the member's own
// (the same files), a TPM's stays the TPM's, the ZSKs go to the shared store with nothing
// else changed; a state that is already a member's copy, or names a ZSK outside the software
// keystore, is refused.
func TestShareState(t *testing.T) {
	t.Parallel()
	const zone = "example.test."
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	key := func(id string, role keystore.Role, store string) keyRec {
		return keyRec{Key: rollover.Key{ID: id, Role: role, Publish: now}, Store: store, Backend: "software", Modified: now}
	}
	doc := func(ksks []string, zsk string) []byte {
		st := &zoneState{Zone: zone, Signing: true, Modified: now}
		for i, s := range ksks {
			st.KSKs = append(st.KSKs, &kskRec{keyRec: key("k"+string(rune('0'+i)), keystore.KSK, s), Name: "ksk"})
		}
		z := key("z0", keystore.ZSK, zsk)
		st.ZSKs = []*keyRec{&z}
		b, err := encodeState(st)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out, zsks, err := ShareState(zone, doc([]string{storeSoft, storeTPM}, storeSoft), "etcd")
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeState(zone, out)
	if err != nil {
		t.Fatal(err)
	}
	if st.KSKs[0].Store != storeLocal || st.KSKs[1].Store != storeTPM || st.KSKs[0].Backend != "software" {
		t.Errorf("KSKs after sharing: %+v, %+v", st.KSKs[0].keyRec, st.KSKs[1].keyRec)
	}
	if len(zsks) != 1 || zsks[0] != "z0" || st.ZSKs[0].Store != storeSoft || st.ZSKs[0].Backend != "etcd" {
		t.Errorf("ZSKs after sharing: %v, %+v", zsks, st.ZSKs[0])
	}
	if !st.Signing || !st.Modified.Equal(now) || !st.ZSKs[0].Publish.Equal(now) {
		t.Errorf("sharing changed more than the stores: %+v", st)
	}
	if _, _, err := ShareState(zone, out, "etcd"); !errors.Is(err, ErrMemberCopy) {
		t.Errorf("sharing a member's copy: %v, want ErrMemberCopy", err)
	}
	if _, _, err := ShareState(zone, doc([]string{storeSoft}, storeTPM), "etcd"); err == nil {
		t.Error("a ZSK in the TPM was shared")
	}
	if _, _, err := ShareState("other.test.", doc([]string{storeSoft}, storeSoft), "etcd"); err == nil {
		t.Error("another zone's state was shared")
	}
}
