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
