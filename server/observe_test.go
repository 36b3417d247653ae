package server

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func answer(t testing.TB, name string, qtype uint16) []byte {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, true)
	r := new(dns.Msg)
	r.SetRcode(q, dns.RcodeNameError)
	r.SetEdns0(1232, true)
	b, err := r.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestObserve: answers are counted by question type (unknown types as OTHER) and size, and
// the query log writes exactly one in N with the fields an operator greps for.
func TestObserve(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var logged bytes.Buffer
	h := NewHandler(nil, nil, nil, Config{QueryLog: 3, Logger: slog.New(slog.NewTextHandler(&logged, nil))}, NewMetrics(reg))
	client := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 5353}
	for range 5 {
		h.observe(udp, client, answer(t, "www.example.test.", dns.TypeAAAA), true)
	}
	h.observe(tcp, client, answer(t, "x.example.test.", 65280), false)

	if got := testutil.ToFloat64(h.metrics.traffic.qtype[dns.TypeAAAA]); got != 5 {
		t.Errorf("AAAA answers counted %v, want 5", got)
	}
	if got := testutil.ToFloat64(h.metrics.traffic.other); got != 1 {
		t.Errorf("OTHER answers counted %v, want 1", got)
	}
	if n := testutil.CollectAndCount(reg, "signet_response_size_bytes"); n != 2 {
		t.Errorf("%d size series, want 2 (udp, tcp)", n)
	}
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("6 queries, one in 3 logged: %d lines:\n%s", len(lines), logged.String())
	}
	for _, want := range []string{"msg=query", "transport=udp", "qname=www.example.test.", "qtype=AAAA", "rcode=NXDOMAIN", "do=true", "cached=true", "client=127.0.0.9:5353"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("query log line lacks %s: %s", want, lines[0])
		}
	}
	if !strings.Contains(lines[1], "qtype=TYPE65280") || !strings.Contains(lines[1], "transport=tcp") {
		t.Errorf("second logged query: %s", lines[1])
	}
}

// TestQueryLogOff: with QueryLog 0 nothing is logged.
func TestQueryLogOff(t *testing.T) {
	var logged bytes.Buffer
	h := NewHandler(nil, nil, nil, Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))}, nil)
	for range 10 {
		h.observe(udp, nil, answer(t, "a.test.", dns.TypeA), false)
	}
	if logged.Len() != 0 {
		t.Errorf("query log off, but: %s", logged.String())
	}
}

func TestQuestionType(t *testing.T) {
	b := answer(t, "a.b.test.", dns.TypeMX)
	if qt, ok := questionType(b); !ok || qt != dns.TypeMX {
		t.Errorf("questionType = %d %v, want MX", qt, ok)
	}
	for _, bad := range [][]byte{nil, b[:11], b[:14], b[:len("a.b.test.")+13]} {
		if _, ok := questionType(bad); ok {
			t.Errorf("questionType accepted %d bytes", len(bad))
		}
	}
}

// BenchmarkObserve is the cost observe adds to a packet-cache hit: it must not allocate.
func BenchmarkObserve(b *testing.B) {
	h := NewHandler(nil, nil, nil, Config{}, NewMetrics(prometheus.NewRegistry()))
	resp := answer(b, "www.example.test.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		h.observe(udp, nil, resp, true)
	}
}
