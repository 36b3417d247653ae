package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signetdns/signet/internal/resolvertest"
)

// labTPM is swtpm started with the README's command line ("Sealing the KSK in a TPM").
type labTPM struct {
	t     *testing.T
	lab   string
	state string
	cmd   *exec.Cmd
	done  chan struct{}
}

// start runs `swtpm socket --tpm2 --server type=unixio,path=LAB/swtpm.sock --ctrl
// type=unixio,path=LAB/swtpm.sock.ctrl --tpmstate dir=STATE --flags
// not-need-init,startup-clear` and waits until it accepts connections.
func (l *labTPM) start(state string) {
	t := l.t
	t.Helper()
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	l.state = state
	sock := filepath.Join(l.lab, "swtpm.sock")
	l.cmd = exec.Command(resolvertest.RequireTool(t, "swtpm"), "socket", "--tpm2",
		"--server", "type=unixio,path="+sock,
		"--ctrl", "type=unixio,path="+sock+".ctrl",
		"--tpmstate", "dir="+state, "--flags", "not-need-init,startup-clear")
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l.done = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(l.cmd, l.done)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("swtpm does not listen on " + sock)
		}
	}
}

func (l *labTPM) stop() {
	if l.cmd != nil && l.cmd.Process != nil {
		l.cmd.Process.Kill()
		<-l.done
		l.cmd = nil
	}
}

// TestTPMWalkthrough runs the README's "Sealing the KSK in a TPM" as written: a lab TPM with
// swtpm, the one configuration line, `signet ksk create` reporting STORE tpm, the files of
// the state directory and their modes, the key's attributes through jq and tpm2_print, what
// an operator sees while the TPM is away (and that the zone still validates), the recovery,
// and the refusal of the key by a different TPM. unbound, trusting only the zone's DS,
// checks the zone at every step.
func TestTPMWalkthrough(t *testing.T) {
	t.Parallel()
	resolvertest.RequireTool(t, "unbound")
	jq := resolvertest.RequireTool(t, "jq")
	resolvertest.RequireTool(t, "tpm2_print")
	// Not t.TempDir: a unix socket path must stay under 108 bytes.
	lab, err := os.MkdirTemp("", "lab")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(lab)
	tpm := &labTPM{t: t, lab: lab}
	tpm.start(filepath.Join(lab, "tpmstate"))
	defer tpm.stop()

	zone := copyZone(t, lab, "example.test.zone")
	// The README's configuration; the two dnssec settings only make the KSK checks and
	// retries take seconds instead of minutes.
	s := startSignetConfig(t, func(addr string) string {
		return fmt.Sprintf("listen: [%q]\nkeystore:\n  tpm:\n    device: unix:%s/swtpm.sock\nzones:\n  - origin: example.test.\n    file: %s\ndnssec:\n  ksk_check_interval: 1s\n  ksk_retry_min: 1s\n", addr, lab, zone)
	})

	out := s.run(t, "ksk", "create", "example.test.", "ksk1")
	t.Logf("$ signet ksk create example.test. ksk1\n%s", out)
	if f := strings.Fields(lastLine(out)); len(f) < 7 || f[0] != "ksk1" || f[1] != "ACTIVE" || f[5] != "tpm" {
		t.Fatalf("ksk create does not report an ACTIVE KSK in the TPM:\n%s", out)
	}
	if out := s.run(t, "dnssec", "enable", "example.test."); !strings.Contains(out, "zone example.test.: SIGNING") {
		t.Fatalf("dnssec enable:\n%s", out)
	}
	anchor := s.ds(t, "example.test.")
	u := resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
		Stubs:   map[string]string{"example.test.": unboundAt(s.Addr)},
		Anchors: []string{anchor},
	})
	validates := func(step string) {
		t.Helper()
		u.Flush(t)
		for _, q := range []struct {
			name  string
			qtype uint16
		}{{"www.example.test.", dns.TypeA}, {"example.test.", dns.TypeDNSKEY}} {
			if r := u.Query(t, q.name, q.qtype); r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
				t.Fatalf("%s: %s %s not validated: %v", step, q.name, dns.TypeToString[q.qtype], r)
			}
		}
	}
	validates("KSK in the TPM")

	// The state directory, as the README's table lists it.
	keys, _ := filepath.Glob(filepath.Join(s.State, "tpm", "*.json"))
	if len(keys) != 1 {
		t.Fatalf("%d KSK files in STATE/tpm, want 1", len(keys))
	}
	id := strings.TrimSuffix(filepath.Base(keys[0]), ".json")
	for _, f := range []string{"tpm/" + id + ".json", "tpm/" + id + ".auth", "zones/example.test.json", "zones/example.test.premade", "admin.token"} {
		fi, err := os.Stat(filepath.Join(s.State, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("STATE/%s: %v, want a 0600 file", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(s.State, "tpm", id+".auth")); err != nil || fi.Size() != 32 {
		t.Errorf("the authorization value is not 32 bytes: %v", err)
	}
	if zsks, _ := filepath.Glob(filepath.Join(s.State, "keys", "*.key.age")); len(zsks) != 1 {
		t.Errorf("%d age-encrypted keys in STATE/keys, want the ZSK", len(zsks))
	}

	// The README's tpm2-tools session, with Signet stopped (swtpm serves one client).
	s.stop(t)
	script := fmt.Sprintf(`set -e
export TPM2TOOLS_TCTI=swtpm:path=%s/swtpm.sock
cd %s
K=%s
jq -r .tpm_public $K | base64 -d > ksk.pub; jq -r .tpm_private $K | base64 -d > ksk.priv
tpm2_flushcontext -t
head -c 64 /dev/zero | tpm2_createprimary -Q -C o -g sha256 -G ecc256:aes128cfb -u - \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt' -c srk.ctx
tpm2_flushcontext -t
tpm2_load -Q -C srk.ctx -u ksk.pub -r ksk.priv -c ksk.ctx; tpm2_flushcontext -t
tpm2_readpublic -c ksk.ctx
tpm2_flushcontext -t
echo "srk_name $(jq -r .srk_name $K)"
tpm2_readpublic -Q -c srk.ctx -n srk.name; tpm2_flushcontext -t
echo "srk.ctx $(base64 -w0 srk.name)"
tpm2_print -t TPM2B_PUBLIC ksk.pub
`, lab, lab, keys[0])
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(jq)+":"+os.Getenv("PATH"))
	printed, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's tpm2-tools session: %v\n%s", err, printed)
	}
	t.Logf("tpm2-tools session:\n%s", printed)
	const attrs = "value: fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|sign"
	if n := strings.Count(string(printed), attrs); n != 2 || !strings.Contains(string(printed), "NIST p256") {
		t.Errorf("tpm2_readpublic and tpm2_print do not both show %q on P-256:\n%s", attrs, printed)
	}
	var srkName, srkCtx string
	for _, l := range strings.Split(string(printed), "\n") {
		if v, ok := strings.CutPrefix(l, "srk_name "); ok {
			srkName = v
		}
		if v, ok := strings.CutPrefix(l, "srk.ctx "); ok {
			srkCtx = v
		}
	}
	if srkName == "" || srkName != srkCtx {
		t.Errorf("tpm2_createprimary's storage key %q is not the key file's srk_name %q", srkCtx, srkName)
	}
	s.start(t)
	validates("Signet restarted after the tpm2-tools session")

	// The TPM goes away.
	tpm.stop()
	list := waitKSKStatus(t, s, "ACTION_NEEDED")
	t.Logf("$ signet ksk list example.test.  (TPM stopped)\n%s", list)
	if !strings.Contains(list, "the key cannot sign: serving pre-made signatures valid until") || !strings.Contains(list, "unreachable") {
		t.Errorf("ACTION_NEEDED without the README's explanation:\n%s", list)
	}
	fams := scrape(t, s)
	if n := metric(t, fams, "signet_dnssec_ksks_needing_action", "zone", "example.test."); n != 1 {
		t.Errorf("signet_dnssec_ksks_needing_action = %v, want 1", n)
	}
	if exp := metric(t, fams, "signet_dnssec_premade_signature_expiry_seconds", "zone", "example.test."); exp < 20*24*3600 {
		t.Errorf("pre-made signatures last %v s, want about three weeks", exp)
	}
	validates("TPM away: pre-made signatures")
	// The zone still validates, so the instance stays in service (/readyz, open on loopback).
	if code, rd := getReady(t, s); code != http.StatusOK || !rd.Ready || !rd.Zones[0].CanSign {
		t.Errorf("/readyz while the pre-made signatures last: %d %+v, want 200", code, rd)
	}

	// It comes back.
	tpm.start(filepath.Join(lab, "tpmstate"))
	waitKSKStatus(t, s, "ACTIVE")
	validates("TPM back")

	// Another TPM (a new machine, or a cleared one) cannot load the key.
	tpm.stop()
	tpm.start(filepath.Join(lab, "othertpm"))
	list = waitKSKStatus(t, s, "ACTION_NEEDED")
	t.Logf("$ signet ksk list example.test.  (another TPM)\n%s", list)
	if !strings.Contains(list, "the key was created by a different TPM, or this TPM's owner hierarchy was cleared; it cannot be loaded") {
		t.Errorf("a different TPM is not named as the reason:\n%s", list)
	}
	validates("another TPM: pre-made signatures")
}

// waitKSKStatus polls `signet ksk list example.test.` until ksk1 has status want (20 s at
// most) and returns the listing.
func waitKSKStatus(t *testing.T, s *signet, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := s.run(t, "ksk", "list", "example.test.")
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "ksk1" && f[1] == want {
				return out
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ksk1 not %s after 20 s:\n%s", want, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
