package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// DefaultDevice is the kernel's TPM resource manager.
const DefaultDevice = "/dev/tpmrm0"

// maxResponse bounds a TPM response; TPM 2.0 responses are at most a few
// KiB (MAX_RESPONSE_SIZE is 4096 on common TPMs).
const maxResponse = 64 << 10

// device is a parsed Options.Device.
type device struct {
	spec    string
	network string // "unix", "tcp", or "" for a character device
	addr    string
	// rm reports a resource manager, which flushes our transient objects
	// when the connection closes and isolates us from other clients.
	rm bool
}

func parseDevice(spec string) (device, error) {
	if spec == "" {
		spec = DefaultDevice
	}
	switch {
	case strings.HasPrefix(spec, "unix:"):
		p := strings.TrimPrefix(spec, "unix:")
		if p == "" {
			return device{}, fmt.Errorf("keystore: TPM device %q: empty socket path", spec)
		}
		return device{spec: spec, network: "unix", addr: p}, nil
	case strings.HasPrefix(spec, "tcp:"):
		a := strings.TrimPrefix(spec, "tcp:")
		if _, _, err := net.SplitHostPort(a); err != nil {
			return device{}, fmt.Errorf("keystore: TPM device %q: %w", spec, err)
		}
		return device{spec: spec, network: "tcp", addr: a}, nil
	case strings.HasPrefix(spec, "/"):
		return device{spec: spec, addr: spec, rm: strings.HasPrefix(filepath.Base(spec), "tpmrm")}, nil
	}
	return device{}, fmt.Errorf("keystore: TPM device %q: want a /dev path, unix:PATH or tcp:HOST:PORT", spec)
}

// connError marks a failure to talk to the TPM at all, as opposed to an
// error code the TPM returned: the connection is dropped and re-made.
type connError struct{ err error }

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

func isConnError(err error) bool {
	var ce *connError
	return errors.As(err, &ce)
}

// dial opens a connection to d.
func (d device) dial(dialTimeout, cmdTimeout time.Duration) (transport.TPMCloser, error) {
	if d.network == "" {
		t, err := linuxtpm.Open(d.addr)
		if err != nil {
			return nil, &connError{err}
		}
		return &wrapped{t}, nil
	}
	c, err := net.DialTimeout(d.network, d.addr, dialTimeout)
	if err != nil {
		return nil, &connError{err}
	}
	return &socket{conn: c, timeout: cmdTimeout}, nil
}

// wrapped marks every transport error of a character device as a connError.
type wrapped struct{ t transport.TPMCloser }

func (w *wrapped) Send(cmd []byte) ([]byte, error) {
	rsp, err := w.t.Send(cmd)
	if err != nil {
		return nil, &connError{err}
	}
	return rsp, nil
}

func (w *wrapped) Close() error { return w.t.Close() }

// socket speaks raw TPM 2.0 command frames over one long-lived stream
// connection, as swtpm's server socket expects: a command is written whole
// and the response is read by its header's size field (TPM 2.0 Part 1
// §18.4.1). go-tpm's linuxudstpm redials for every command and its tcp
// transport speaks the MS simulator protocol; neither sets deadlines.
type socket struct {
	conn    net.Conn
	timeout time.Duration
}

func (s *socket) Send(cmd []byte) ([]byte, error) {
	if err := s.conn.SetDeadline(time.Now().Add(s.timeout)); err != nil {
		return nil, &connError{err}
	}
	if _, err := s.conn.Write(cmd); err != nil {
		return nil, &connError{err}
	}
	var hdr [10]byte // tag (2), size (4), response code (4)
	if _, err := io.ReadFull(s.conn, hdr[:]); err != nil {
		return nil, &connError{err}
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < uint32(len(hdr)) || size > maxResponse {
		return nil, &connError{fmt.Errorf("bad TPM response size %d", size)}
	}
	rsp := make([]byte, size)
	copy(rsp, hdr[:])
	if _, err := io.ReadFull(s.conn, rsp[len(hdr):]); err != nil {
		return nil, &connError{err}
	}
	return rsp, nil
}

func (s *socket) Close() error { return s.conn.Close() }
