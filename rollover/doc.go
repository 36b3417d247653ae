// Package rollover plans DNSSEC key rollovers. Given a zone's keys (each a timeline of
// timestamps), its Policy and now, Plan returns the actions due and when it must run next.
// It is pure: no clock, no I/O, no keystore. keymgr executes the actions (the keystore, parent
// DS queries), records their effect with Apply, persists the keys, and rebuilds the zone's key
// ring at the times Plan returns. It imports only keystore (for Role).
//
// # Derive, plan, act
//
// Each Key stores timestamps (Publish, Ready, Active, Retire, Remove, CDS publication, DS
// observations); its State and what it does (InDNSKEY, Signs, InCDS) are derived from them and
// now, never stored, so that they cannot drift from the timings. When a rollover starts, Apply writes its remaining timeline at once, so the
// only steps left as actions are those with an outside effect: creating a key, querying the
// parent, scheduling the KSK swap once the parent has changed, deleting a key.
//
// # ZSK: pre-publish rollover (RFC 6781 §4.1.1.1, RFC 7583 §3.2.1)
//
// With the defaults (propagation delay 5 min, DNSKEY TTL 1 h, largest zone TTL 1 day, lifetime
// 30 days), for a ZSK active since A:
//
//	A + 30d - 1h05m  CreateZSK: the new ZSK is published.        Ipub = Dprp + TTLkey = 1h05m
//	A + 30d          the new ZSK signs; the old one stops.       (the old one signed exactly 30 days)
//	A + 30d + 1d05m  the old ZSK leaves the DNSKEY RRset;        Iret = Dprp + TTLsig = 1d05m
//	                 Delete removes it from the keystore.
//
// The signature validity period does not enter Iret: an online signer makes no signature with
// a retired key, and a cached RRSIG lives at most its TTL (the RRset's, RFC 4035 §2.2).
//
// # KSK: double-KSK rollover (RFC 6781 §4.1.2, RFC 7583 §3.3.2, RFC 7344)
//
// Automatic only with Policy.KSKAutomatic; otherwise the operator follows Route 53's procedure
// through keymgr and the planner only derives states. With the defaults (lifetime 365 days,
// parent DS TTL 1 day, parent propagation margin 1 h, checks hourly, wait limit 7 days), for a
// KSK active since A and a parent that acts on CDS after two days:
//
//	A + 365d          CreateKSK: the new KSK is published; both KSKs sign the DNSKEY RRset.
//	A + 365d + 1h05m  Ready: every cached DNSKEY RRset holds it. CDS/CDNSKEY naming only the
//	                  new KSK appear; CheckParentDS runs hourly.
//	≈ A + 367d + 1h   a check finds the new DS at every parent server and the old at none
//	                  (or the operator confirms by hand): SwapKSK schedules the swap at
//	                  max(DSSeen, DSGone) + ParentPropagation + ParentDSTTL, about A + 368d + 2h.
//	swap              the new KSK is active; the old one leaves the DNSKEY RRset (no cached DS
//	                  RRset can name only it any more); CDS/CDNSKEY are withdrawn; Delete.
//
// If the swap is not scheduled 7 days after Ready, the new KSK is ACTION_NEEDED and no other
// rollover starts (Route 53 pauses ZSK rotation likewise) until the parent changes or an operator
// calls ConfirmDS. A later check that contradicts the observation before the swap takes effect
// calls the swap off (SwapKSK again), so a parent that reverts does not strand resolvers.
//
// At most one rollover of a zone runs at a time: a rollover that falls due while another is in
// progress (or while paused) starts when it ends. Emergency starts one at once regardless of
// lifetime and of a rollover of the other role (ZSK and KSK rollovers involve different RFC
// 7583 conditions), with the same safe intervals, which are already the shortest safe ones.
//
// # Crashes, outages and catch-up
//
// keymgr persists the keys after every Apply; Plan is a function of what it persisted, so after
// kill -9 and a restart it continues where the timestamps say. A crash between an action's side
// effect and the persisted Apply repeats the action (a second key is created; keymgr deletes
// keystore keys that the state does not name).
//
// Timestamps are wall-clock instants, and catching up after an outage jumps straight to the
// derived state. That is safe because every RFC 7583 condition is of the form "no resolver may
// still hold X", and a resolver can only hold what was served before its TTL ran out: while the
// server is down nothing is served, so an outage only empties caches, never fills them. A step
// that was due during the outage is taken at the restart, and the intervals that follow count
// from that moment (Apply never backdates). The simulation test runs two ten-day outages, one in
// the middle of a ZSK rollover and one while a KSK waits for its DS, against a resolver cache
// model (package rollovertest).
//
// What the planner cannot detect is a system clock that steps forward while the server keeps
// serving: that shortens intervals by the step. Run the clock slewed (NTP), or keep
// PropagationDelay above the largest step expected.
package rollover
