package server

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// header builds a 12-byte DNS header.
func header(id, flags, qd, an, ns, ar uint16) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], qd)
	binary.BigEndian.PutUint16(b[6:], an)
	binary.BigEndian.PutUint16(b[8:], ns)
	binary.BigEndian.PutUint16(b[10:], ar)
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var wwwA = []byte("\x03www\x07example\x04test\x00\x00\x01\x00\x01")

func TestMalformedPackets(t *testing.T) {
	ts := startServer(t, Config{}, exampleZones...)
	tests := []struct {
		name   string
		pkt    []byte
		silent bool // no answer expected
		rcode  int
	}{
		{"empty", nil, true, 0},
		{"11 bytes", header(1, 0, 1, 0, 0, 0)[:11], true, 0},
		{"a response", cat(header(2, 0x8000, 1, 0, 0, 0), wwwA), true, 0},
		{"QDCOUNT 0", header(3, 0, 0, 0, 0, 0), false, dns.RcodeFormatError},
		{"QDCOUNT 2", cat(header(4, 0, 2, 0, 0, 0), wwwA, wwwA), false, dns.RcodeFormatError},
		{"QDCOUNT 1 but no question", header(5, 0, 1, 0, 0, 0), false, dns.RcodeFormatError},
		{"label runs past the end", cat(header(6, 0, 1, 0, 0, 0), []byte("\x3fwww")), false, dns.RcodeFormatError},
		{"bad label length 0x40", cat(header(7, 0, 1, 0, 0, 0), []byte("\x40abc\x00\x00\x01\x00\x01")), false, dns.RcodeFormatError},
		{"compression loop", cat(header(8, 0, 1, 0, 0, 0), []byte("\xc0\x0c\x00\x01\x00\x01")), false, dns.RcodeFormatError},
		{"pointer forward", cat(header(9, 0, 1, 0, 0, 0), []byte("\xc0\x20\x00\x01\x00\x01")), false, dns.RcodeFormatError},
		{"truncated qtype", cat(header(10, 0, 1, 0, 0, 0), wwwA[:len(wwwA)-3]), false, dns.RcodeFormatError},
		{"ARCOUNT lies", cat(header(11, 0, 1, 0, 0, 3), wwwA), false, dns.RcodeFormatError},
		{"answer in a query", cat(header(12, 0, 1, 1, 0, 0), wwwA, []byte("\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x01")), false, dns.RcodeFormatError},
		{"opcode UPDATE", cat(header(13, 5<<11, 1, 0, 0, 0), wwwA), false, dns.RcodeNotImplemented},
		{"name too long", cat(header(14, 0, 1, 0, 0, 0), longName(), []byte("\x00\x01\x00\x01")), false, dns.RcodeFormatError},
	}
	conn, err := net.Dial("udp", ts.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	buf := make([]byte, 4096)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := conn.Write(tc.pkt); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := conn.Read(buf)
			if tc.silent {
				if err == nil {
					t.Fatalf("expected silence, got %d bytes", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			if n < 12 || buf[2]&0x80 == 0 {
				t.Fatalf("not a response: %x", buf[:n])
			}
			if rc := int(buf[3] & 0xF); rc != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[rc], dns.RcodeToString[tc.rcode])
			}
			if id := binary.BigEndian.Uint16(buf); len(tc.pkt) >= 2 && id != binary.BigEndian.Uint16(tc.pkt) {
				t.Fatalf("id %d not echoed", id)
			}
		})
	}
	// The server still answers a good query after all that.
	r := exchange(t, "udp", ts.udp, query("www.example.test.", dns.TypeA, false))
	if len(r.Answer) != 1 {
		t.Fatalf("server stopped answering: %v", r)
	}
}

func longName() []byte {
	var b []byte
	for i := 0; i < 5; i++ {
		b = append(b, 63)
		for j := 0; j < 63; j++ {
			b = append(b, 'a')
		}
	}
	return append(b, 0)
}

// FuzzServePacket feeds arbitrary bytes through the whole pipeline: it must never panic
// (the recover would turn a panic into SERVFAIL, so a SERVFAIL here is a failure too).
func FuzzServePacket(f *testing.F) {
	zs := NewZoneSet(quietLogger(), nil)
	for _, z := range exampleZones {
		if err := zs.Add(z); err != nil {
			f.Fatal(err)
		}
	}
	h := NewHandler(zs.Store(), nil, nil, Config{Logger: quietLogger()}, nil)
	f.Add(cat(header(1, 0, 1, 0, 0, 0), wwwA))
	f.Add(cat(header(8, 0, 1, 0, 0, 0), []byte("\xc0\x0c\x00\x01\x00\x01")))
	q := query("big.example.test.", dns.TypeTXT, true)
	b, _ := q.Pack()
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		out := h.ServePacket(in, make([]byte, 0, 512), udp)
		if out == nil {
			return
		}
		if len(out) < 12 {
			t.Fatalf("short response %x", out)
		}
		if out[3]&0xF == dns.RcodeServerFailure {
			t.Fatalf("SERVFAIL (a recovered panic?) for %x", in)
		}
		if len(out) > 512 && !(len(in) > 11 && hasEDNS(in)) {
			t.Fatalf("UDP response of %d bytes to a query without EDNS", len(out))
		}
	})
}

func hasEDNS(in []byte) bool {
	m := new(dns.Msg)
	return m.Unpack(in) == nil && m.IsEdns0() != nil
}
