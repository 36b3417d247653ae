package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/signetdns/signet/internal/resolvertest"
	"github.com/signetdns/signet/keystore/tpm/tpmtest"
)

// scrape reads the Prometheus text exposition at the server's admin /metrics.
func scrape(t *testing.T, s *signet) map[string]*dto.MetricFamily {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + s.Admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// metric returns the value of the series name{label=value} (label "" for an unlabelled
// series), failing the test when the series is missing.
func metric(t *testing.T, fams map[string]*dto.MetricFamily, name, label, value string) float64 {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("/metrics has no %s", name)
	}
	for _, m := range f.GetMetric() {
		if label != "" && !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == label && l.GetValue() == value
		}) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	t.Fatalf("/metrics has no %s{%s=%q}", name, label, value)
	return 0
}

// checkDS compares `signet ds ZONE --json` with what the real dnssec-dsfromkey (BIND 9)
// computes from the DNSKEY RRset the server serves: the same key tags, algorithms and
// SHA-256 digests, one DS per published KSK.
func checkDS(t *testing.T, s *signet, zone string) {
	t.Helper()
	tool := resolvertest.RequireTool(t, "dnssec-dsfromkey")
	host, port, _ := strings.Cut(s.Addr, ":")
	dnskeys := resolvertest.Dig(t, "@"+host, "-p", port, "+norec", "+noall", "+answer", zone, "DNSKEY")
	cmd := exec.Command(tool, "-2", "-f", "-", zone)
	cmd.Stdin = strings.NewReader(dnskeys)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dnssec-dsfromkey: %v\n%s\ninput:\n%s", err, out, dnskeys)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("dnssec-dsfromkey output %q: %v", line, err)
		}
		ds := rr.(*dns.DS)
		want = append(want, dsKey(int(ds.KeyTag), int(ds.Algorithm), int(ds.DigestType), ds.Digest))
	}
	var list []struct {
		Status                                            string
		KeyTag, SigningAlgorithmType, DigestAlgorithmType int
		DigestValue                                       string
	}
	decodeJSON(t, s.run(t, "ds", zone, "--json"), &list)
	var got []string
	for _, k := range list {
		if k.Status != "INACTIVE" {
			got = append(got, dsKey(k.KeyTag, k.SigningAlgorithmType, k.DigestAlgorithmType, k.DigestValue))
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("signet ds %s --json = %v, dnssec-dsfromkey on the served DNSKEY RRset = %v", zone, got, want)
	}
	t.Logf("DS of %s matches dnssec-dsfromkey: %v", zone, want)
}

func dsKey(tag, alg, digestType int, digest string) string {
	return fmt.Sprintf("%d %d %d %s", tag, alg, digestType, strings.ToUpper(digest))
}

// TestMetrics scrapes /metrics on the admin address of a server whose KSK is in a TPM and
// checks Route 53's DNSSEC metrics and the signature counters per keystore backend; and
// that the DS it prints is what dnssec-dsfromkey computes from the served DNSKEY RRset.
func TestMetrics(t *testing.T) {
	sw := tpmtest.StartSWTPM(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "signet.yaml")
	if err := os.WriteFile(cfg, []byte(tpmConfig(sw.Addr())), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSignet(t, "", "--config", cfg, "--dnssec", "--zone", "example.test.="+copyZone(t, dir, "example.test.zone"))
	const zone = "example.test."
	day := (24 * time.Hour).Seconds()

	// The quick start answers with the pre-made signatures of the first day; the other
	// fourteen days' are made in the background moments later.
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		fams = scrape(t, s)
		if metric(t, fams, "signet_dnssec_premade_signature_expiry_seconds", "zone", zone) >= 14*day {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pre-made signatures of the days after the first were not made within 20 s of the start")
		}
	}
	tests := []struct {
		name     string
		min, max float64
	}{
		{"signet_dnssec_internal_failure", 0, 0},
		{"signet_dnssec_ksks_needing_action", 0, 0},
		{"signet_dnssec_ksk_max_needing_action_age_seconds", 0, 0},
		// Created by this server's quick start moments ago.
		{"signet_dnssec_ksk_age_seconds", 0, 120},
		// 15 pre-made signatures a day apart, each valid 7 days: about 21 days ahead, and
		// never less than the last one's validity.
		{"signet_dnssec_premade_signature_expiry_seconds", 14 * day, 22 * day},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := metric(t, fams, tc.name, "zone", zone)
			t.Logf("%s{zone=%q} %v", tc.name, zone, v)
			if v < tc.min || v > tc.max {
				t.Errorf("%s = %v, want [%v, %v]", tc.name, v, tc.min, tc.max)
			}
		})
	}

	// The KSK (TPM) made the pre-made DNSKEY signatures; answers are signed online by the
	// ZSK (software), never by the KSK.
	tpm0 := metric(t, fams, "signet_signatures_made_total", "backend", "tpm")
	soft0 := metric(t, fams, "signet_signatures_made_total", "backend", "software")
	if tpm0 < 15 {
		t.Errorf("signet_signatures_made_total{backend=\"tpm\"} = %v, want at least the 15 pre-made DNSKEY signatures", tpm0)
	}
	for i := range 5 {
		r := s.query(t, fmt.Sprintf("n%d.missing.%s", i, zone), dns.TypeA, true)
		if len(sigTags(r)) == 0 {
			t.Fatalf("no RRSIG in a signed negative answer:\n%v", r)
		}
	}
	fams = scrape(t, s)
	tpm1 := metric(t, fams, "signet_signatures_made_total", "backend", "tpm")
	soft1 := metric(t, fams, "signet_signatures_made_total", "backend", "software")
	t.Logf("signatures made: tpm %v -> %v, software %v -> %v", tpm0, tpm1, soft0, soft1)
	if soft1 <= soft0 {
		t.Errorf("software signatures %v -> %v: online signing of new answers not counted", soft0, soft1)
	}
	if tpm1 != tpm0 {
		t.Errorf("TPM signatures %v -> %v: the KSK signed on the query path", tpm0, tpm1)
	}

	checkDS(t, s, zone)
}
