package memory_test

import (
	"testing"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/keystore/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keystore.Store {
		s := memory.New()
		t.Cleanup(func() { _ = s.Close() })
		return s
	}, []uint8{keystore.ECDSAP256SHA256, keystore.ED25519, keystore.RSASHA256})
}
