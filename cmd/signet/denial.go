package main

import (
	"fmt"
	"strings"

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
	}
	return 0, fmt.Errorf("%q: want compact, blacklies or whitelies", s)
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
