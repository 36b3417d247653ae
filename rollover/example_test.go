package rollover_test

import (
	"fmt"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

// Example shows keymgr's step: plan, carry out the actions, record them with Apply, and sleep
// until the next time Plan names.
func Example() {
	p := rollover.Policy{} // defaults: ZSK every 30 days, manual KSK
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := []rollover.Key{
		{ID: "k1", Role: keystore.KSK, Tag: 1, Created: now, Publish: now, Ready: now, Active: now},
		{ID: "z1", Role: keystore.ZSK, Tag: 2, Created: now, Publish: now, Ready: now, Active: now},
	}
	_, next, _ := rollover.Plan(keys, p, now)
	fmt.Println("sleep until", next.Format(time.DateTime))

	now = next
	actions, _, _ := rollover.Plan(keys, p, now)
	for _, a := range actions {
		// keymgr creates the key in the keystore here, then records it.
		created := rollover.Key{ID: "z3", Role: a.Role, Tag: 3, Algorithm: keystore.ECDSAP256SHA256}
		keys, _ = rollover.Apply(keys, a, created, p, now)
		fmt.Println(a.Kind, "-", a.Why)
	}
	_, next, _ = rollover.Plan(keys, p, now)
	for _, k := range keys {
		fmt.Println(k.Role, k.Tag, k.State(now), "next", k.State(next), "at", next.Format(time.DateTime))
	}
	// Output:
	// sleep until 2026-01-30 22:55:00
	// create-zsk - ZSK lifetime 720h0m0s ends at 2026-01-31T00:00:00Z
	// KSK 1 active next active at 2026-01-31 00:00:00
	// ZSK 2 active next retired at 2026-01-31 00:00:00
	// ZSK 3 published next active at 2026-01-31 00:00:00
}
