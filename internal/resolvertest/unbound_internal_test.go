package resolvertest

import (
	"strings"
	"testing"
)

func TestUnboundAddr(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "127.0.0.1:5300", want: "127.0.0.1@5300"},
		{in: "127.0.0.1@5300", want: "127.0.0.1@5300"},
		{in: "127.0.0.1", want: "127.0.0.1"},
		{in: "[::1]:5300", want: "::1@5300"},
		{in: "::1", want: "::1"},
		{in: "localhost:5300", want: "localhost@5300"},
		{in: "127.0.0.1:x:y", err: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := unboundAddr(tc.in)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("unboundAddr(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestUnboundConf(t *testing.T) {
	tests := []struct {
		name string
		cfg  UnboundConfig
		want []string // lines that must appear, in this order
		not  []string // lines that must not appear
	}{
		{
			name: "stubs sorted, several addresses, transparent local zones",
			cfg: UnboundConfig{Stubs: map[string]string{
				"b.test":                "127.0.0.1:5301",
				"a.test.":               "127.0.0.1:5300, 127.0.0.2@5300",
				"2.0.192.in-addr.arpa.": "127.0.0.1:5302",
			}},
			want: []string{
				"  do-ip6: no",
				`  local-zone: "2.0.192.in-addr.arpa." transparent`,
				`  local-zone: "a.test." transparent`,
				`  local-zone: "b.test." transparent`,
				"stub-zone:", `  name: "2.0.192.in-addr.arpa."`, "  stub-addr: 127.0.0.1@5302",
				"stub-zone:", `  name: "a.test."`, "  stub-addr: 127.0.0.1@5300", "  stub-addr: 127.0.0.2@5300",
				"stub-zone:", `  name: "b.test."`, "  stub-addr: 127.0.0.1@5301",
				"remote-control:", "  control-use-cert: no",
			},
			not: []string{"  cache-max-ttl: 0"},
		},
		{
			name: "IPv6 stub turns on do-ip6",
			cfg:  UnboundConfig{Stubs: map[string]string{"a.test.": "[::1]:5300"}},
			want: []string{"  do-ip6: yes", "  stub-addr: ::1@5300"},
		},
		{
			name: "cache cap and extra lines stay in server:",
			cfg:  UnboundConfig{CacheMaxTTL: 5, Extra: "aggressive-nsec: yes\n  val-clean-additional: no\n"},
			want: []string{"server:", "  cache-max-ttl: 5", "  aggressive-nsec: yes", "  val-clean-additional: no", "remote-control:"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := unboundConf("/d", 5353, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(conf, "\n")
			i := 0
			for _, w := range tc.want {
				for i < len(lines) && lines[i] != w {
					i++
				}
				if i == len(lines) {
					t.Fatalf("line %q missing or out of order in:\n%s", w, conf)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(conf, n) {
					t.Errorf("unexpected %q in:\n%s", n, conf)
				}
			}
		})
	}
}
