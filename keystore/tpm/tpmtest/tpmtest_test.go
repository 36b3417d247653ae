package tpmtest_test

import (
	"net"
	"strings"
	"testing"

	"github.com/signetdns/signet/keystore/tpm/tpmtest"
)

func TestStartStop(t *testing.T) {
	s := tpmtest.StartSWTPM(t)
	if !s.Running() {
		t.Fatal("not running after StartSWTPM")
	}
	sock := strings.TrimPrefix(s.Addr(), "unix:")
	if len(sock) > 107 {
		t.Errorf("socket path %q longer than the 108-byte limit", sock)
	}
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	s.Stop()
	if s.Running() {
		t.Fatal("running after Stop")
	}
	if c, err := net.Dial("unix", sock); err == nil {
		c.Close()
		t.Fatal("socket still accepts connections after Stop")
	}
	s.Start()
	if !s.Running() {
		t.Fatal("not running after restart")
	}
}
