package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/signetdns/signet/rollover"
	"github.com/signetdns/signet/signer"
)

// denialNames are the config spellings of the denial modes.
var denialNames = map[signer.Mode]string{
	signer.Compact:   "compact",
	signer.BlackLies: "blacklies",
	signer.WhiteLies: "whitelies",
	signer.NSEC:      "nsec",
	signer.NSEC3:     "nsec3",
}

func parseDenial(s string) (signer.Mode, error) {
	switch strings.ToLower(s) {
	case "compact", "":
		return signer.Compact, nil
	case "blacklies", "black-lies":
		return signer.BlackLies, nil
	case "whitelies", "white-lies":
		return signer.WhiteLies, nil
	case "nsec":
		return signer.NSEC, nil
	case "nsec3":
		return signer.NSEC3, nil
	}
	return 0, fmt.Errorf("%q: want compact, blacklies, whitelies, nsec or nsec3", s)
}

func parseAlgorithm(s string) (uint8, error) {
	switch strings.ToUpper(s) {
	case "", "13", "ECDSAP256SHA256":
		return 13, nil
	case "15", "ED25519":
		return 15, nil
	case "8", "RSASHA256":
		return 8, nil
	}
	return 0, fmt.Errorf("%q: want ECDSAP256SHA256 (13), ED25519 (15) or RSASHA256 (8)", s)
}

// parseZSKLifetime reads dnssec.zsk_lifetime: a duration, or "route53" for Route 53's random
// 7-30 days.
func parseZSKLifetime(s string) (d time.Duration, route53 bool, err error) {
	if strings.EqualFold(s, "route53") {
		return 0, true, nil
	}
	d, err = time.ParseDuration(s)
	if err != nil {
		return 0, false, fmt.Errorf("%q: want a duration such as 720h, or route53", s)
	}
	if d == 0 {
		return 0, false, fmt.Errorf("%q: zero; use a negative duration to never roll", s)
	}
	return d, false, nil
}

const (
	kskManual    = "manual"
	kskAutomatic = "automatic"
)

// parseKSKRollover reads dnssec.ksk_rollover; true means automatic.
func parseKSKRollover(s string) (bool, error) {
	switch strings.ToLower(s) {
	case kskManual, "":
		return false, nil
	case kskAutomatic:
		return true, nil
	}
	return false, fmt.Errorf("%q: want manual or automatic", s)
}

// rollover returns the rollover policy the settings describe (route53 leaves ZSKLifetime
// zero: the key manager draws it per zone).
func (s SigningSettings) rollover() (rollover.Policy, error) {
	zskLife, _, err := parseZSKLifetime(s.ZSKLifetime)
	if err != nil {
		return rollover.Policy{}, fmt.Errorf("zsk_lifetime: %w", err)
	}
	auto, err := parseKSKRollover(s.KSKRollover)
	if err != nil {
		return rollover.Policy{}, fmt.Errorf("ksk_rollover: %w", err)
	}
	return rollover.Policy{
		ZSKLifetime:       zskLife,
		KSKAutomatic:      auto,
		KSKLifetime:       s.KSKLifetime,
		PropagationDelay:  s.PropagationDelay,
		DNSKEYTTL:         time.Duration(s.DNSKEYTTL) * time.Second,
		ParentDSTTL:       s.ParentDSTTL,
		ParentPropagation: s.ParentPropagation,
		DSCheckInterval:   s.DSCheckInterval,
		DSWaitLimit:       s.DSWaitLimit,
	}, nil
}

// joinSorted joins errs in the order of their messages, so that a report listing several
// problems reads the same on every run.
func joinSorted(errs []error) error {
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}
