package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/signetdns/signet/keystore"
	"github.com/signetdns/signet/keystore/tpm/tpmtest"
)

// frameProxy sits between the store and swtpm and relays whole TPM command and response
// frames (TPM 2.0 Part 1 §18.4.1: the size is in the header), counting the commands under
// way at once across all its connections and the connections open at once.
type frameProxy struct {
	ln                net.Listener
	upstream          string // unix socket path of swtpm
	inFlight, maxSeen atomic.Int32
	conns, maxConns   atomic.Int32
	commands          atomic.Int64
	wg                sync.WaitGroup
}

func startProxy(t *testing.T, upstream string) *frameProxy {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "proxy.sock"))
	if err != nil {
		t.Fatal(err)
	}
	p := &frameProxy{ln: ln, upstream: upstream}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.relay(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func raise(max *atomic.Int32, v int32) {
	for m := max.Load(); v > m && !max.CompareAndSwap(m, v); m = max.Load() {
	}
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [10]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > 1<<16 {
		return nil, fmt.Errorf("bad frame size %d", size)
	}
	b := make([]byte, size)
	copy(b, hdr[:])
	_, err := io.ReadFull(r, b[10:])
	return b, err
}

func (p *frameProxy) relay(c net.Conn) {
	defer c.Close()
	raise(&p.maxConns, p.conns.Add(1))
	defer p.conns.Add(-1)
	up, err := net.Dial("unix", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	for {
		cmd, err := readFrame(c)
		if err != nil {
			return
		}
		raise(&p.maxSeen, p.inFlight.Add(1))
		p.commands.Add(1)
		_, err = up.Write(cmd)
		var rsp []byte
		if err == nil {
			rsp, err = readFrame(up)
		}
		if err == nil {
			_, err = c.Write(rsp)
		}
		p.inFlight.Add(-1)
		if err != nil {
			return
		}
	}
}

// TestCommandsSerialised drives one store from 16 goroutines at once, as a server starting
// many zones does (keys created, signers opened, signatures made), through a proxy in front
// of swtpm: the TPM, which does one command at a time, never has two commands under way,
// and every key signs correctly.
func TestCommandsSerialised(t *testing.T) {
	tpm := tpmtest.StartSWTPM(t)
	p := startProxy(t, strings.TrimPrefix(tpm.Addr(), "unix:"))
	s := openStore(t, filepath.Join(t.TempDir(), "keys"), "unix:"+p.ln.Addr().String())
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			ctx := context.Background()
			m, err := s.Create(ctx, fmt.Sprintf("z%d.example.", i), keystore.KSK, keystore.ECDSAP256SHA256)
			if err != nil {
				errs[i] = err
				return
			}
			sg, err := s.Signer(ctx, m.ID)
			if err != nil {
				errs[i] = err
				return
			}
			for j := range 3 {
				if err := trySign(sg, fmt.Sprintf("%d/%d", i, j)); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if p.commands.Load() < 16*4 {
		t.Fatalf("%d TPM commands through the proxy, want at least %d: the store bypassed it", p.commands.Load(), 16*4)
	}
	if got := p.maxSeen.Load(); got != 1 {
		t.Errorf("%d TPM commands under way at once, want 1", got)
	}
	if got := p.maxConns.Load(); got != 1 {
		t.Errorf("%d connections to the TPM open at once, want 1", got)
	}
}
