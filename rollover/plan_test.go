package rollover_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/rollover"
)

func d(n float64) time.Time { return start.Add(time.Duration(n * float64(day))) }

var (
	ipub = rollover.DefaultPropagationDelay + rollover.DefaultDNSKEYTTL
	iret = rollover.DefaultPropagationDelay + rollover.DefaultMaxZoneTTL
	swap = rollover.DefaultParentPropagation + rollover.DefaultParentDSTTL
)

func ksk(id string, active time.Time) rollover.Key {
	return rollover.Key{ID: id, Role: keystore.KSK, Created: active, Publish: active, Ready: active, Active: active}
}

func zsk(id string, active time.Time) rollover.Key {
	return rollover.Key{ID: id, Role: keystore.ZSK, Created: active, Publish: active, Ready: active, Active: active}
}

// rollingZSK returns z1 retiring in favour of z2, created at t.
func rollingZSK(t time.Time) []rollover.Key {
	z1, z2 := zsk("z1", start), zsk("z2", t.Add(ipub))
	z2.Publish, z2.Created = t, t
	z1.Retire, z1.Remove = z2.Active, z2.Active.Add(iret)
	return []rollover.Key{ksk("k1", start), z1, z2}
}

// rollingKSK returns k1 being replaced by k2, published at t, with edit applied to k2 and k1.
func rollingKSK(t time.Time, edit func(k1, k2 *rollover.Key)) []rollover.Key {
	k1, k2 := ksk("k1", start), rollover.Key{ID: "k2", Role: keystore.KSK, Created: t, Publish: t, Ready: t.Add(ipub), CDSPublish: t.Add(ipub)}
	k1.DSSeen = d(1)
	if edit != nil {
		edit(&k1, &k2)
	}
	return []rollover.Key{k1, k2, zsk("z1", d(360))}
}

func TestPlan(t *testing.T) {
	auto := rollover.Policy{KSKAutomatic: true}
	base := []rollover.Key{ksk("k1", start), zsk("z1", start)}
	zdue := d(30).Add(-ipub)
	sick := slices.Clone(base)
	sick[0].ActionNeeded = d(20)
	tests := []struct {
		name    string
		keys    []rollover.Key
		policy  rollover.Policy
		now     time.Time
		want    []rollover.ActionKind
		wantAt  time.Time // At of the first action, if any
		next    time.Time
		rolling keystore.Role
		paused  bool
		needs   bool
	}{
		{name: "empty zone gets keys", keys: nil, policy: auto, now: start,
			want: []rollover.ActionKind{rollover.CreateZSK, rollover.CreateKSK}, wantAt: start},
		{name: "manual KSK: no KSK is created", keys: nil, now: start,
			want: []rollover.ActionKind{rollover.CreateZSK}, wantAt: start},
		{name: "mid-life: wake for the ZSK rollover", keys: base, policy: auto, now: d(10), next: zdue},
		{name: "ZSK due so that the successor signs at 30 days", keys: base, policy: auto, now: zdue,
			want: []rollover.ActionKind{rollover.CreateZSK}, wantAt: zdue},
		{name: "ZSK overdue after an outage", keys: base, policy: auto, now: d(45),
			want: []rollover.ActionKind{rollover.CreateZSK}, wantAt: zdue},
		{name: "ZSK never rolls with a negative lifetime", keys: base, policy: rollover.Policy{ZSKLifetime: -1}, now: d(400)},
		{name: "route53 lifetime", keys: base, policy: rollover.Policy{ZSKLifetime: 7 * day}, now: d(6), next: d(7).Add(-ipub)},
		{name: "ZSK rollover in progress: wake at activation", keys: rollingZSK(d(29)), policy: auto, now: d(29).Add(time.Minute),
			next: d(29).Add(ipub), rolling: keystore.ZSK},
		{name: "ZSK rollover in progress: wake at removal", keys: rollingZSK(d(29)), policy: auto, now: d(29.5),
			next: d(29).Add(ipub + iret), rolling: keystore.ZSK},
		{name: "old ZSK deleted after removal", keys: rollingZSK(d(29)), policy: auto, now: d(31),
			want: []rollover.ActionKind{rollover.Delete}, wantAt: d(29).Add(ipub + iret), next: d(59)},
		{name: "paused while a KSK is ACTION_NEEDED", keys: sick, policy: auto, now: d(45), paused: true, needs: true},
		{name: "KSK rollover due a year after activation", keys: []rollover.Key{ksk("k1", start), zsk("z1", d(360))}, policy: auto, now: d(365),
			want: []rollover.ActionKind{rollover.CreateKSK}, wantAt: d(365)},
		{name: "manual KSK never rolls", keys: []rollover.Key{ksk("k1", start), zsk("z1", d(360))}, now: d(370), next: d(390).Add(-ipub)},
		{name: "ZSK waits for the KSK rollover", keys: rollingKSK(d(365), nil), policy: auto, now: d(392),
			want: []rollover.ActionKind{rollover.CheckParentDS}, wantAt: d(365).Add(ipub), next: d(392).Add(time.Hour), rolling: keystore.KSK, needs: true, paused: true},
		{name: "new KSK not ready: no DS check yet", keys: rollingKSK(d(365), nil), policy: auto, now: d(365).Add(time.Minute),
			next: d(365).Add(ipub), rolling: keystore.KSK},
		{name: "DS check due at ready", keys: rollingKSK(d(365), nil), policy: auto, now: d(365).Add(ipub),
			want: []rollover.ActionKind{rollover.CheckParentDS}, wantAt: d(365).Add(ipub), next: d(365).Add(ipub + time.Hour), rolling: keystore.KSK},
		{name: "DS checked: next check an hour later", keys: rollingKSK(d(365), func(_, k2 *rollover.Key) { k2.DSChecked = d(366) }), policy: auto, now: d(366).Add(time.Minute),
			next: d(366).Add(time.Hour), rolling: keystore.KSK},
		{name: "new DS seen but old not gone: keep checking", keys: rollingKSK(d(365), func(_, k2 *rollover.Key) { k2.DSChecked, k2.DSSeen = d(367), d(367) }), policy: auto, now: d(367),
			next: d(367).Add(time.Hour), rolling: keystore.KSK},
		{name: "parent changed: swap", keys: rollingKSK(d(365), func(k1, k2 *rollover.Key) { k2.DSChecked, k2.DSSeen, k1.DSGone = d(367), d(367), d(367) }), policy: auto, now: d(367),
			want: []rollover.ActionKind{rollover.SwapKSK}, wantAt: d(367), next: d(367).Add(time.Hour), rolling: keystore.KSK},
		{name: "swap scheduled: wait for it", keys: rollingKSK(d(365), func(k1, k2 *rollover.Key) {
			k2.DSChecked, k2.DSSeen, k1.DSGone = d(367), d(367), d(367)
			k2.Active, k2.CDSRemove, k1.Retire, k1.Remove = d(367).Add(swap), d(367).Add(swap), d(367).Add(swap), d(367).Add(swap)
		}), policy: auto, now: d(367).Add(time.Minute), next: d(367).Add(time.Hour), rolling: keystore.KSK},
		{name: "confirmed by hand: no more checks", keys: rollingKSK(d(365), func(k1, k2 *rollover.Key) {
			k2.DSConfirmed, k2.DSSeen, k1.DSGone = d(367), d(367), d(367)
			k2.Active, k2.CDSRemove, k1.Retire, k1.Remove = d(367).Add(swap), d(367).Add(swap), d(367).Add(swap), d(367).Add(swap)
		}), policy: auto, now: d(367).Add(time.Minute), next: d(367).Add(swap), rolling: keystore.KSK},
		{name: "parent went back before the swap: call it off", keys: rollingKSK(d(365), func(k1, k2 *rollover.Key) {
			k2.DSChecked, k1.DSGone = d(367.5), d(367)
			k2.Active, k2.CDSRemove, k1.Retire, k1.Remove = d(367).Add(swap), d(367).Add(swap), d(367).Add(swap), d(367).Add(swap)
		}), policy: auto, now: d(367.5), want: []rollover.ActionKind{rollover.SwapKSK}, wantAt: d(367.5), next: d(367.5).Add(time.Hour), rolling: keystore.KSK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			actions, next, st := rollover.Plan(tc.keys, tc.policy, tc.now)
			var kinds []rollover.ActionKind
			for _, a := range actions {
				kinds = append(kinds, a.Kind)
				if a.At.After(tc.now) {
					t.Errorf("%v due at %v, after now %v", a.Kind, a.At, tc.now)
				}
				if a.Why == "" {
					t.Errorf("%v has no reason", a.Kind)
				}
			}
			if !slices.Equal(kinds, tc.want) {
				t.Fatalf("actions = %v, want %v (status %+v)", kinds, tc.want, st)
			}
			if len(actions) > 0 && !actions[0].At.Equal(tc.wantAt) {
				t.Errorf("%v at %v, want %v", actions[0].Kind, actions[0].At, tc.wantAt)
			}
			if !next.Equal(tc.next) {
				t.Errorf("next = %v, want %v", next, tc.next)
			}
			if st.Rolling != tc.rolling || st.Paused != tc.paused || st.NeedsAction() != tc.needs {
				t.Errorf("rolling %v paused %v needs action %v, want %v %v %v (%s)", st.Rolling, st.Paused, st.NeedsAction(), tc.rolling, tc.paused, tc.needs, st.Reason)
			}
			if tc.paused && st.Reason == "" {
				t.Error("paused without a reason")
			}
		})
	}
}

func TestState(t *testing.T) {
	z := rollingZSK(d(29))
	old, nw := z[1], z[2]
	tests := []struct {
		name          string
		k             rollover.Key
		now           time.Time
		want          rollover.State
		dnskey, signs bool
		next          time.Time
		nextState     rollover.State
	}{
		{"new before publish", nw, d(28), rollover.Generated, false, false, d(29), rollover.Published},
		{"new published", nw, d(29), rollover.Published, true, false, d(29).Add(ipub), rollover.Active}, // a ZSK's Ready and Active coincide: it is active then
		{"new active", nw, d(29).Add(ipub), rollover.Active, true, true, time.Time{}, 0},
		{"old active", old, d(29), rollover.Active, true, true, d(29).Add(ipub), rollover.Retired},
		{"old retired", old, d(29).Add(ipub), rollover.Retired, true, false, d(29).Add(ipub + iret), rollover.Removed},
		{"old removed", old, d(29).Add(ipub + iret), rollover.Removed, false, false, time.Time{}, 0},
		{"KSK signs while published, before ready", rollingKSK(d(365), nil)[1], d(365), rollover.Published, true, true, d(365).Add(ipub), rollover.Ready},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.k.State(tc.now); got != tc.want {
				t.Errorf("State = %v, want %v", got, tc.want)
			}
			if tc.k.InDNSKEY(tc.now) != tc.dnskey || tc.k.Signs(tc.now) != tc.signs {
				t.Errorf("InDNSKEY %v Signs %v, want %v %v", tc.k.InDNSKEY(tc.now), tc.k.Signs(tc.now), tc.dnskey, tc.signs)
			}
			_, _, st := rollover.Plan([]rollover.Key{tc.k}, rollover.Policy{ZSKLifetime: -1}, tc.now)
			if ks := st.Keys[0]; !ks.Next.Equal(tc.next) || ks.NextState != tc.nextState || ks.State != tc.want {
				t.Errorf("status %v next %v %v, want %v %v", ks.State, ks.Next, ks.NextState, tc.next, tc.nextState)
			}
		})
	}
}

func TestApply(t *testing.T) {
	p := rollover.Policy{KSKAutomatic: true}
	now := d(30).Add(-ipub)
	base := []rollover.Key{ksk("k1", start), zsk("z1", start)}

	t.Run("CreateZSK writes the pre-publish timeline", func(t *testing.T) {
		got, err := rollover.Apply(base, rollover.Action{Kind: rollover.CreateZSK, Role: keystore.ZSK}, rollover.Key{ID: "z2", Role: keystore.ZSK, Tag: 2}, p, now)
		if err != nil {
			t.Fatal(err)
		}
		z1, z2 := got[1], got[2]
		if !z2.Publish.Equal(now) || !z2.Active.Equal(now.Add(ipub)) || !z2.Created.Equal(now) {
			t.Errorf("new ZSK publish %v active %v", z2.Publish, z2.Active)
		}
		if !z1.Retire.Equal(z2.Active) || !z1.Remove.Equal(z2.Active.Add(iret)) {
			t.Errorf("old ZSK retire %v remove %v", z1.Retire, z1.Remove)
		}
		if !base[1].Retire.IsZero() {
			t.Error("Apply modified its input")
		}
	})
	t.Run("first ZSK is active at once", func(t *testing.T) {
		got, err := rollover.Apply(nil, rollover.Action{Kind: rollover.CreateZSK, Role: keystore.ZSK}, rollover.Key{ID: "z1", Role: keystore.ZSK}, p, now)
		if err != nil || !got[0].Active.Equal(now) || !got[0].Publish.Equal(now) {
			t.Fatalf("%+v, %v", got, err)
		}
	})
	t.Run("CreateKSK publishes and waits for the parent", func(t *testing.T) {
		got, err := rollover.Apply(base, rollover.Action{Kind: rollover.CreateKSK, Role: keystore.KSK}, rollover.Key{ID: "k2", Role: keystore.KSK}, p, now)
		if err != nil {
			t.Fatal(err)
		}
		k1, k2 := got[0], got[2]
		if !k2.Publish.Equal(now) || !k2.Ready.Equal(now.Add(ipub)) || !k2.CDSPublish.Equal(k2.Ready) || !k2.Active.IsZero() {
			t.Errorf("new KSK %+v", k2)
		}
		if !k1.Retire.IsZero() || !k1.Remove.IsZero() {
			t.Errorf("old KSK retired before the parent changed: %+v", k1)
		}
	})
	t.Run("SwapKSK waits the DS TTL from the later observation", func(t *testing.T) {
		keys := rollingKSK(d(365), func(k1, k2 *rollover.Key) { k2.DSSeen, k1.DSGone = d(367), d(367.5) })
		got, err := rollover.Apply(keys, rollover.Action{Kind: rollover.SwapKSK, KeyID: "k2"}, rollover.Key{}, p, d(367.5))
		if err != nil {
			t.Fatal(err)
		}
		want := d(367.5).Add(swap)
		if !got[1].Active.Equal(want) || !got[0].Remove.Equal(want) || !got[0].Retire.Equal(want) || !got[1].CDSRemove.Equal(want) {
			t.Errorf("swap at %v: new %+v old %+v", want, got[1], got[0])
		}
	})
	t.Run("SwapKSK and calling it off leave the old KSK's CDS closed", func(t *testing.T) {
		// k1 came in by an earlier rollover: its CDS window [CDSPublish, CDSRemove) ended when
		// it became active. Neither the next rollover's swap nor calling it off may reopen it.
		keys := rollingKSK(d(365), func(k1, k2 *rollover.Key) {
			k1.CDSPublish, k1.CDSRemove = start.Add(-ipub), start
			k2.DSSeen, k1.DSGone = d(367), d(367)
		})
		swapped, err := rollover.Apply(keys, rollover.Action{Kind: rollover.SwapKSK, KeyID: "k2"}, rollover.Key{}, p, d(367))
		if err != nil {
			t.Fatal(err)
		}
		flapped := rollover.RecordDS(swapped, []rollover.DSCheck{{KeyID: "k1", Presence: rollover.DSAtAll}}, d(367.2))
		off, err := rollover.Apply(flapped, rollover.Action{Kind: rollover.SwapKSK, KeyID: "k2"}, rollover.Key{}, p, d(367.2))
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{d(367), d(367.1), d(367.2), d(368)} {
			for name, ks := range map[string][]rollover.Key{"swap scheduled": swapped, "swap called off": off} {
				if ks[0].InCDS(at) || !ks[1].InCDS(at) && at.Before(ks[1].Active) {
					t.Errorf("%s, at %v: CDS names old %v new %v, want only the new KSK", name, at, ks[0].InCDS(at), ks[1].InCDS(at))
				}
			}
		}
		if !off[1].Active.IsZero() || !off[0].Remove.IsZero() {
			t.Errorf("called off: new %+v old %+v", off[1], off[0])
		}
	})
	t.Run("an active KSK is never in CDS, whatever its CDS window", func(t *testing.T) {
		// A state written before the fix: the swap that was called off left the old KSK's
		// CDSRemove zero. The CDS RRset must name the new KSK alone again.
		keys := rollingKSK(d(365), func(k1, k2 *rollover.Key) { k1.CDSPublish = start.Add(-ipub) })
		if keys[0].InCDS(d(366)) || !keys[1].InCDS(d(366)) {
			t.Errorf("CDS names old %v new %v, want only the new KSK", keys[0].InCDS(d(366)), keys[1].InCDS(d(366)))
		}
	})
	t.Run("Delete drops the key", func(t *testing.T) {
		got, err := rollover.Apply(base, rollover.Action{Kind: rollover.Delete, KeyID: "z1"}, rollover.Key{}, p, now)
		if err != nil || len(got) != 1 || got[0].ID != "k1" {
			t.Fatalf("%+v, %v", got, err)
		}
	})
	errs := []struct {
		name string
		keys []rollover.Key
		a    rollover.Action
		new  rollover.Key
		want error
	}{
		{"create without the key", base, rollover.Action{Kind: rollover.CreateZSK, Role: keystore.ZSK}, rollover.Key{}, rollover.ErrNoKey},
		{"create with the wrong role", base, rollover.Action{Kind: rollover.CreateZSK, Role: keystore.ZSK}, rollover.Key{ID: "x", Role: keystore.KSK}, rollover.ErrNoKey},
		{"create with a duplicate ID", base, rollover.Action{Kind: rollover.CreateZSK, Role: keystore.ZSK}, rollover.Key{ID: "z1", Role: keystore.ZSK}, rollover.ErrNoKey},
		{"ZSK while one is published", rollingZSK(now), rollover.Action{Kind: rollover.CreateZSK, Role: keystore.ZSK}, rollover.Key{ID: "z3", Role: keystore.ZSK}, rollover.ErrRolloverInProgress},
		{"KSK while one waits", rollingKSK(now.Add(-2*time.Hour), nil), rollover.Action{Kind: rollover.CreateKSK, Role: keystore.KSK}, rollover.Key{ID: "k3", Role: keystore.KSK}, rollover.ErrRolloverInProgress},
		{"delete unknown", base, rollover.Action{Kind: rollover.Delete, KeyID: "nope"}, rollover.Key{}, rollover.ErrNoKey},
		{"swap a key not rolling", base, rollover.Action{Kind: rollover.SwapKSK, KeyID: "k1"}, rollover.Key{}, rollover.ErrNoKey},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := rollover.Apply(tc.keys, tc.a, tc.new, p, now); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRecordAndConfirmDS(t *testing.T) {
	now := d(367)
	keys := rollingKSK(d(365), nil)
	got := rollover.RecordDS(keys, []rollover.DSCheck{{KeyID: "k1", Presence: rollover.DSAtNone}, {KeyID: "k2", Presence: rollover.DSAtAll}, {KeyID: "z1", Presence: rollover.DSAtAll}}, now)
	if !got[0].DSGone.Equal(now) || !got[0].DSSeen.IsZero() || !got[1].DSSeen.Equal(now) || !got[2].DSSeen.IsZero() {
		t.Errorf("recorded %+v", got)
	}
	again := rollover.RecordDS(got, []rollover.DSCheck{{KeyID: "k2", Presence: rollover.DSAtAll}}, now.Add(time.Hour))
	if !again[1].DSSeen.Equal(now) {
		t.Errorf("a repeated sighting moved DSSeen to %v", again[1].DSSeen)
	}
	flap := rollover.RecordDS(got, []rollover.DSCheck{{KeyID: "k2", Presence: rollover.DSAtSome}}, now.Add(time.Hour))
	if !flap[1].DSSeen.IsZero() {
		t.Error("a partial sighting kept DSSeen")
	}

	conf, err := rollover.ConfirmDS(keys, "k2", now)
	if err != nil {
		t.Fatal(err)
	}
	if !conf[1].DSSeen.Equal(now) || !conf[1].DSConfirmed.Equal(now) || !conf[0].DSGone.Equal(now) || !conf[0].DSSeen.IsZero() {
		t.Errorf("confirmed %+v", conf)
	}
	actions, _, _ := rollover.Plan(conf, rollover.Policy{KSKAutomatic: true}, now)
	if len(actions) != 1 || actions[0].Kind != rollover.SwapKSK {
		t.Errorf("after ConfirmDS: %v, want one swap", actions)
	}
	if _, err := rollover.ConfirmDS(keys, "k1", now); !errors.Is(err, rollover.ErrNoKey) {
		t.Errorf("confirming the old KSK: %v", err)
	}
}

func TestEmergency(t *testing.T) {
	auto := rollover.Policy{KSKAutomatic: true}
	base := []rollover.Key{ksk("k1", start), zsk("z1", start)}
	tests := []struct {
		name string
		keys []rollover.Key
		role keystore.Role
		p    rollover.Policy
		want rollover.ActionKind
		err  error
	}{
		{"ZSK", base, keystore.ZSK, auto, rollover.CreateZSK, nil},
		{"KSK", base, keystore.KSK, auto, rollover.CreateKSK, nil},
		{"KSK manual", base, keystore.KSK, rollover.Policy{}, 0, rollover.ErrManualKSK},
		{"ZSK during a ZSK rollover", rollingZSK(d(5)), keystore.ZSK, auto, 0, rollover.ErrRolloverInProgress},
		{"ZSK during a KSK rollover", append(rollingKSK(d(5), nil)[:2], zsk("z1", start)), keystore.ZSK, auto, rollover.CreateZSK, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := d(5).Add(time.Minute)
			acts, err := rollover.Emergency(tc.keys, tc.role, tc.p, now)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if len(acts) != 1 || acts[0].Kind != tc.want || !acts[0].Emergency || !acts[0].At.Equal(now) {
				t.Fatalf("actions %+v", acts)
			}
			got, err := rollover.Apply(tc.keys, acts[0], rollover.Key{ID: "new", Role: tc.role}, tc.p, now)
			if err != nil {
				t.Fatal(err)
			}
			n := got[len(got)-1]
			if !n.Publish.Equal(now) || !n.Ready.Equal(now.Add(ipub)) {
				t.Errorf("emergency key %+v: want published now, ready after Ipub", n)
			}
		})
	}
}

// TestAlgorithmPlan: a policy algorithm that differs from the KSK's starts an algorithm
// rollover (new ZSK first, then its KSK), reported in the status; with manual KSK rollover it
// is only reported; emergency rollovers wait for it.
func TestAlgorithmPlan(t *testing.T) {
	k13, z13 := ksk("k1", start), zsk("z1", start)
	k13.Algorithm, z13.Algorithm = 13, 13
	base := []rollover.Key{k13, z13}
	auto := rollover.Policy{KSKAutomatic: true, Algorithm: 15}
	now := d(10)

	acts, _, st := rollover.Plan(base, auto, now)
	if len(acts) != 1 || acts[0].Kind != rollover.CreateZSK || acts[0].Algorithm != 15 {
		t.Fatalf("actions %+v, want CreateZSK with algorithm 15", acts)
	}
	if st.AlgorithmFrom != 13 || st.AlgorithmTo != 15 {
		t.Errorf("status algorithm %d -> %d, want 13 -> 15", st.AlgorithmFrom, st.AlgorithmTo)
	}
	keys, err := rollover.Apply(base, acts[0], rollover.Key{ID: "z2", Role: keystore.ZSK}, auto, now)
	if err != nil {
		t.Fatal(err)
	}
	z2 := keys[2]
	if z2.Algorithm != 15 || !z2.Active.Equal(now) || !z2.Publish.Equal(now.Add(iret)) || !keys[1].Retire.IsZero() {
		t.Errorf("new ZSK %+v (want signing now, published after Dprp + TTLsig), old ZSK retire %v (want none)", z2, keys[1].Retire)
	}
	if z2.State(now) != rollover.Generated || !z2.Signs(now) || z2.InDNSKEY(now) {
		t.Errorf("new ZSK at start: state %v signs %v published %v, want generated, signing, unpublished", z2.State(now), z2.Signs(now), z2.InDNSKEY(now))
	}
	acts, _, _ = rollover.Plan(keys, auto, now)
	if len(acts) != 1 || acts[0].Kind != rollover.CreateKSK || acts[0].Algorithm != 15 {
		t.Fatalf("after the ZSK: actions %+v, want CreateKSK with algorithm 15", acts)
	}
	keys, err = rollover.Apply(keys, acts[0], rollover.Key{ID: "k2", Role: keystore.KSK}, auto, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if k2 := keys[3]; !k2.Publish.Equal(z2.Publish) || !k2.CDSPublish.Equal(z2.Publish.Add(ipub)) {
		t.Errorf("new KSK %+v, want published with the new ZSK and CDS Ipub later", k2)
	}
	if _, err := rollover.Emergency(keys, keystore.ZSK, auto, now.Add(time.Hour)); !errors.Is(err, rollover.ErrRolloverInProgress) {
		t.Errorf("emergency ZSK rollover during the algorithm rollover: %v, want ErrRolloverInProgress", err)
	}
	if _, err := rollover.Apply(base, rollover.Action{Kind: rollover.CreateZSK, Role: keystore.ZSK, Algorithm: 15}, rollover.Key{ID: "z9", Role: keystore.ZSK, Algorithm: 13}, auto, now); !errors.Is(err, rollover.ErrNoKey) {
		t.Errorf("a created key of another algorithm than asked: %v, want ErrNoKey", err)
	}

	// With manual KSK rollover the algorithm rollover runs the same way (as in Knot and BIND):
	// its new KSK waits for its DS like an automatic one.
	manual := rollover.Policy{Algorithm: 15}
	acts, _, st = rollover.Plan(base, manual, now)
	if len(acts) != 1 || acts[0].Kind != rollover.CreateZSK || acts[0].Algorithm != 15 || st.AlgorithmFrom != 13 || st.AlgorithmTo != 15 {
		t.Fatalf("manual KSK: actions %+v, status %d -> %d; want CreateZSK with algorithm 15, 13 -> 15", acts, st.AlgorithmFrom, st.AlgorithmTo)
	}
	mkeys, err := rollover.Apply(base, acts[0], rollover.Key{ID: "z2", Role: keystore.ZSK}, manual, now)
	if err != nil {
		t.Fatal(err)
	}
	if acts, _, _ = rollover.Plan(mkeys, manual, now); len(acts) != 1 || acts[0].Kind != rollover.CreateKSK || acts[0].Algorithm != 15 {
		t.Fatalf("manual KSK, after the ZSK: actions %+v, want CreateKSK with algorithm 15", acts)
	}
}
