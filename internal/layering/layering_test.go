package layering

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/signetdns/signet/"

// root is the module's directory, from this package's.
const root = "../.."

// only lists the Signet packages (relative to the module) that a leaf package may import:
// nothing else of Signet, so a new dependency on another component is a decision made here,
// not by accident.
var only = map[string][]string{
	"zones":               {"internal/dnsname", "internal/outcome"},
	"signer":              {"internal/dnsname", "internal/outcome"},
	"keystore":            {},
	"statestore":          {},
	"rollover":            {"keystore"},
	"forecast":            {"rollover", "keystore"},
	"cookie":              {},
	"rrl":                 {},
	"ui":                  {},
	"zonewatch":           {},
	"memlimit":            {},
	"internal/atomicfile": {},
	"internal/dnsname":    {},
	"internal/outcome":    {},
	"internal/etcdguard":  {},
}

// never lists what a package in the middle of the graph must not import (a prefix ending in
// "/..." covers a tree): the direction of the arrows, and the backends it is given instead.
var never = map[string][]string{
	"server": {"keymgr", "admin/...", "xfr", "dsboot", "dnssecmetrics", "keystore/...",
		"statestore/...", "forecast"},
	"keymgr": {"zones", "server", "admin/...", "xfr", "dsboot", "dnssecmetrics",
		"keystore/file", "keystore/tpm", "keystore/etcd", "keystore/memory",
		"statestore/file", "statestore/etcd"},
	"xfr":           {"server", "keymgr", "admin/..."},
	"dsboot":        {"server", "keymgr", "admin/..."},
	"dnssecmetrics": {"server", "admin/..."},
}

// backends are the implementations cmd chooses; the packages that use them get interfaces.
var backends = []string{"keystore/file", "keystore/tpm", "keystore/etcd", "keystore/memory",
	"statestore/file", "statestore/etcd"}

type pkg struct {
	path    string // relative to the module
	dir     string
	imports []string // Signet packages only, relative to the module
}

// list runs go list over the module and keeps each package's non-test Signet imports.
func list(t *testing.T) []pkg {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the module's packages: %v", err)
	}
	cmd := exec.Command(goBin, "list", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .Imports \" \"}}", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			t.Fatalf("go list: unexpected line %q", sc.Text())
		}
		p := pkg{path: strings.TrimPrefix(f[0], module), dir: f[1]}
		for _, imp := range strings.Fields(f[2]) {
			if rel, ok := strings.CutPrefix(imp, module); ok {
				p.imports = append(p.imports, rel)
			}
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; is the test run inside the module?", len(pkgs))
	}
	return pkgs
}

// matches reports whether the package path p is pattern, or lies in the tree pattern names
// with a trailing "/...".
func matches(p, pattern string) bool {
	if tree, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == tree || strings.HasPrefix(p, tree+"/")
	}
	return p == pattern
}

func isInternal(p string) bool { return p == "internal" || strings.HasPrefix(p, "internal/") }

// isTestSupport reports whether p exists for tests (storetest, tpmtest, admintest, ...).
func isTestSupport(p string) bool { return strings.HasSuffix(path.Base(p), "test") }

func TestImportsPointOneWay(t *testing.T) {
	t.Parallel()
	for _, p := range list(t) {
		for _, imp := range p.imports {
			if allowed, ok := only[p.path]; ok && !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s; it may import only %v of Signet", p.path, imp, allowed)
			}
			for _, bad := range never[p.path] {
				if matches(imp, bad) {
					t.Errorf("%s imports %s, against the one-way layering (never %s)", p.path, imp, bad)
				}
			}
			if isInternal(p.path) && !isInternal(imp) {
				t.Errorf("%s imports %s: the root internal/ helpers import no component", p.path, imp)
			}
			if slices.Contains(backends, imp) && !p.mayUseBackends() {
				t.Errorf("%s imports the backend %s: only cmd and test support choose backends", p.path, imp)
			}
		}
	}
}

// mayUseBackends: cmd wires them, test support builds fixtures with them, and a backend may
// build on its own tree's helpers.
func (p pkg) mayUseBackends() bool {
	return matches(p.path, "cmd/...") || isTestSupport(p.path) ||
		matches(p.path, "keystore/...") || matches(p.path, "statestore/...")
}

// TestEveryPackageSaysItsJob: each package has a doc.go whose comment starts "Package <name>"
// (or "Command <name>") and says what the package imports.
func TestEveryPackageSaysItsJob(t *testing.T) {
	t.Parallel()
	for _, p := range list(t) {
		b, err := os.ReadFile(filepath.Join(p.dir, "doc.go"))
		if err != nil {
			t.Errorf("%s has no doc.go saying its job: %v", p.path, err)
			continue
		}
		doc := string(b)
		if !strings.HasPrefix(doc, "// Package ") && !strings.HasPrefix(doc, "// Command ") {
			t.Errorf("%s/doc.go does not open with its package comment (\"// Package ...\")", p.path)
		}
		if !strings.Contains(strings.ToLower(doc), "import") {
			t.Errorf("%s/doc.go does not say what the package imports (or must not)", p.path)
		}
	}
}

// TestReadmeLayout: README's Layout section names every top-level directory of the module
// (a package or not) and every internal/ helper, each once, and no directory that is not
// there.
func TestReadmeLayout(t *testing.T) {
	t.Parallel()
	layout := readmeLayout(t)
	entry := regexp.MustCompile(`(?m)^([a-z0-9_]+(?:/[a-z0-9_]+)*)/\s`)
	listed := map[string]bool{}
	for _, m := range entry.FindAllStringSubmatch(layout, -1) {
		if listed[m[1]] {
			t.Errorf("README Layout lists %s/ twice", m[1])
		}
		listed[m[1]] = true
		if fi, err := os.Stat(filepath.Join(root, m[1])); err != nil || !fi.IsDir() {
			t.Errorf("README Layout lists %s/, which is not a directory of the module", m[1])
		}
	}
	top, helpers := map[string]bool{}, map[string]bool{}
	for _, p := range list(t) {
		first, rest, _ := strings.Cut(p.path, "/")
		top[first] = true
		if first == "internal" && rest != "" {
			h, _, _ := strings.Cut(rest, "/")
			helpers[h] = true
		}
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		// Hidden directories and what the build and `make run` leave (git ignores them)
		// are not part of the layout.
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && e.Name() != "bin" && e.Name() != "state" {
			top[e.Name()] = true
		}
	}
	for d := range top {
		if !listed[d] && !listed[d+"/"+firstChild(t, d)] {
			t.Errorf("README Layout does not list the top-level directory %s/", d)
		}
	}
	// The internal/ entry describes each helper by name.
	for h := range helpers {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(h) + `\b`).MatchString(layout) {
			t.Errorf("README Layout does not name the internal helper %s", h)
		}
	}
}

// firstChild is the single directory under d when d holds only one (cmd/signet is listed
// whole), or "".
func firstChild(t *testing.T, d string) string {
	ents, err := os.ReadDir(filepath.Join(root, d))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) == 1 {
		return dirs[0]
	}
	return ""
}

// readmeLayout returns the fenced block of README.md's "## Layout" section.
func readmeLayout(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## Layout\n")
	if !ok {
		t.Fatal("README.md has no \"## Layout\" section")
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	_, block, ok := strings.Cut(sec, "```\n")
	if !ok {
		t.Fatal("README.md's Layout section has no fenced block")
	}
	block, _, _ = strings.Cut(block, "```")
	return block
}
