package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/signetdns/signet/signer"
)

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
	}
	return 0, fmt.Errorf("%q: want compact, blacklies, whitelies or nsec", s)
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

// parseKSKRollover reads dnssec.ksk_rollover; true means automatic.
func parseKSKRollover(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "manual", "":
		return false, nil
	case "automatic":
		return true, nil
	}
	return false, fmt.Errorf("%q: want manual or automatic", s)
}
