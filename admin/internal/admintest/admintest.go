package admintest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/signetdns/signet/keymgr"
	"github.com/signetdns/signet/keystore/memory"
	"github.com/signetdns/signet/statestore/file"
)

// Zone is the zone NewManager adds.
const Zone = "example.test."

// NewManager returns a key manager with Zone added, unsigned and without keys.
func NewManager(t testing.TB) *keymgr.Manager {
	t.Helper()
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	m, err := keymgr.New(keymgr.Config{State: st, Soft: memory.New(), Now: func() time.Time { return t0 }, KSKCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddZone(context.Background(), Zone, keymgr.ZonePolicy{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// Logger discards everything.
func Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
