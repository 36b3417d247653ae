package forecast

import (
	"fmt"
	"time"

	"github.com/signetdns/signet/rollover"
)

// Severity grades a Finding.
type Severity string

// The severities: an Error breaks validation or rollovers; a Warning is legal but unwise.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Finding is one problem with a policy, naming the interval at fault.
type Finding struct {
	Severity Severity `json:"Severity"`
	// Interval names the setting or RFC 7583 interval: zsk-lifetime, ksk-lifetime,
	// dnskey-ttl, refresh, ds-check-interval, ds-wait-limit, planner.
	Interval string `json:"Interval"`
	Message  string `json:"Message"`
}

// Check compares policy p (defaults filled in) with the intervals RFC 7583 derives from the
// zone's TTLs, and the signer's re-signing margin with the largest TTL. Each finding says
// which interval is too short and what it must exceed.
func Check(p rollover.Policy, opt Options) []Finding {
	p = p.WithDefaults()
	var out []Finding
	add := func(sev Severity, interval, format string, args ...any) {
		out = append(out, Finding{Severity: sev, Interval: interval, Message: fmt.Sprintf(format, args...)})
	}
	ipub, iret := p.PublishInterval(), p.RetireInterval()
	if p.ZSKLifetime > 0 {
		// RFC 7583 §3.2.1: the successor is published Ipub before the lifetime ends.
		// A lifetime below Ipub would need it published before the current key signed.
		if p.ZSKLifetime <= ipub {
			add(Error, "zsk-lifetime", "ZSK lifetime %s is not longer than the publish interval Ipub = %s (propagation delay %s + DNSKEY TTL %s): a new ZSK could not be in every cached DNSKEY RRset before it signs",
				Duration(p.ZSKLifetime), Duration(ipub), Duration(p.PropagationDelay), Duration(p.DNSKEYTTL))
		} else if p.ZSKLifetime < ipub+iret {
			// The previous key is still retiring when the next rollover falls due: the
			// rollovers run back to back and every answer carries three ZSKs at times.
			add(Warning, "zsk-lifetime", "ZSK lifetime %s is shorter than a whole pre-publish rollover, Ipub + Iret = %s (Iret = propagation delay %s + largest zone TTL %s): each rollover waits for the previous one, so ZSKs live longer than configured",
				Duration(p.ZSKLifetime), Duration(ipub+iret), Duration(p.PropagationDelay), Duration(p.MaxZoneTTL))
		}
	}
	if p.KSKAutomatic && p.KSKLifetime > 0 {
		// RFC 7583 §3.3.2 (double-KSK): publish, wait Ipub, the parent acts, then the DS TTL
		// (plus the parent's propagation) must pass before the old KSK goes.
		need := ipub + opt.parentDelay() + p.DSSwapInterval()
		if p.KSKLifetime < need {
			add(Error, "ksk-lifetime", "KSK lifetime %s is shorter than one double-KSK rollover: Ipub %s + the parent's reaction (~%s) + parent propagation %s + parent DS TTL %s = %s",
				Duration(p.KSKLifetime), Duration(ipub), Duration(opt.parentDelay()), Duration(p.ParentPropagation), Duration(p.ParentDSTTL), Duration(need))
		}
		if p.DSWaitLimit < opt.parentDelay() {
			add(Warning, "ds-wait-limit", "ds_wait_limit %s is shorter than the time a parent scanning CDS daily takes (~%s): every KSK rollover would turn ACTION_NEEDED",
				Duration(p.DSWaitLimit), Duration(opt.parentDelay()))
		}
		if p.DSCheckInterval >= p.DSWaitLimit {
			add(Warning, "ds-check-interval", "ds_check_interval %s is not shorter than ds_wait_limit %s: the new DS could be seen only after the KSK turned ACTION_NEEDED",
				Duration(p.DSCheckInterval), Duration(p.DSWaitLimit))
		}
	}
	if p.ZSKLifetime > 0 && p.DNSKEYTTL >= p.ZSKLifetime {
		add(Error, "dnskey-ttl", "DNSKEY TTL %s is not shorter than the ZSK lifetime %s", Duration(p.DNSKEYTTL), Duration(p.ZSKLifetime))
	}
	if opt.Refresh > 0 && opt.Refresh <= p.MaxZoneTTL+p.PropagationDelay {
		// A served signature has at least Refresh left; a resolver may keep it for the
		// RRset's TTL, so it must outlive that (RFC 6781 §4.4.2).
		add(Error, "refresh", "dnssec.refresh %s is not longer than the largest zone TTL %s + propagation delay %s: a cached signature could expire before its RRset's TTL",
			Duration(opt.Refresh), Duration(p.MaxZoneTTL), Duration(p.PropagationDelay))
	}
	if opt.Validity > 0 && opt.Validity <= 2*p.MaxZoneTTL {
		add(Warning, "validity", "dnssec.validity %s is less than twice the largest zone TTL %s: signatures are re-made very often",
			Duration(opt.Validity), Duration(p.MaxZoneTTL))
	}
	return out
}

func (o Options) parentDelay() time.Duration {
	if o.ParentDelay > 0 {
		return o.ParentDelay
	}
	return DefaultParentDelay
}

// Duration prints d the way an operator writes it: days when it is whole days ("30d"),
// otherwise Go's form without trailing zero units ("1h5m", not "1h5m0s").
func Duration(d time.Duration) string {
	const day = 24 * time.Hour
	if d < 0 {
		return "-" + Duration(-d)
	}
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	days := d / day
	rest := (d % day).String()
	for _, z := range []string{"m0s", "h0m"} {
		if len(rest) > len(z) && rest[len(rest)-len(z):] == z {
			rest = rest[:len(rest)-len(z)+1]
		}
	}
	if days > 0 {
		return fmt.Sprintf("%dd%s", days, rest)
	}
	return rest
}

// ParseDuration reads a duration as Go does, plus a day unit: "400d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration: want e.g. 400d, 36h or 1d12h")
	}
	var days time.Duration
	for i := 0; i < len(s); i++ {
		if s[i] == 'd' {
			var n int
			if _, err := fmt.Sscanf(s[:i], "%d", &n); err != nil || fmt.Sprint(n) != s[:i] {
				return 0, fmt.Errorf("duration %q: want e.g. 400d, 36h or 1d12h", s)
			}
			days, s = time.Duration(n)*24*time.Hour, s[i+1:]
			break
		}
	}
	if s == "" {
		return days, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 400d, 36h or 1d12h", s)
	}
	return days + d, nil
}
