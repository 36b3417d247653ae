package zones

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

func zoneFor(t testing.TB, origin string, serial int) *Zone {
	t.Helper()
	text := fmt.Sprintf("$TTL 3600\n@ SOA ns1 h %d 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n", serial)
	z, err := Parse(strings.NewReader(text), origin, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestStoreMatch(t *testing.T) {
	s := NewStore()
	if s.Match("www.example.test.") != nil {
		t.Fatal("empty store matched")
	}
	parent := zoneFor(t, "example.test.", 1)
	child := zoneFor(t, "sub.example.test.", 1)
	other := zoneFor(t, "example.net.", 1)
	for _, z := range []*Zone{parent, child, other} {
		s.Set(z)
	}
	tests := []struct {
		qname string
		want  *Zone
	}{
		{"example.test.", parent},
		{"www.example.test.", parent},
		{"sub.example.test.", child},
		{"a.b.sub.example.test.", child},
		{"xsub.example.test.", parent},
		{`a\.sub.example.test.`, parent}, // one label "a.sub", escaped: not in the child
		{"example.net.", other},
		{"test.", nil},
		{"example.org.", nil},
		{".", nil},
	}
	for _, tc := range tests {
		if got := s.Match(tc.qname); got != tc.want {
			t.Errorf("Match(%q) = %v, want %v", tc.qname, origin(got), origin(tc.want))
		}
	}
	if n := testing.AllocsPerRun(100, func() { s.Match("a.b.sub.example.test.") }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}

	root := zoneFor(t, ".", 1)
	s.Set(root)
	if s.Match("example.org.") != root || s.Match(".") != root || s.Match("www.example.test.") != parent {
		t.Error("with the root zone served, unmatched names go to the root and others stay")
	}

	s.Remove("SUB.example.test")
	if s.Match("a.sub.example.test.") != parent || s.Get("sub.example.test.") != nil {
		t.Error("after Remove the parent answers for the child's names")
	}
	all := s.All()
	if len(all) != 3 || all[0] != root || all[1] != other || all[2] != parent {
		t.Errorf("All = %v, want ., example.net., example.test.", all)
	}
}

func origin(z *Zone) string {
	if z == nil {
		return "<nil>"
	}
	return z.Origin()
}

func TestStoreReplace(t *testing.T) {
	s := NewStore()
	s.Set(zoneFor(t, "example.test.", 1))
	before := s.All()
	s.Set(zoneFor(t, "example.test.", 2))
	if got := s.Get("example.test.").Serial(); got != 2 {
		t.Errorf("serial after replace = %d, want 2", got)
	}
	if before[0].Serial() != 1 {
		t.Error("a snapshot taken before the replace changed")
	}
	if len(s.All()) != 1 {
		t.Errorf("replace added a zone: %d", len(s.All()))
	}
}

// Readers see either the old or the new zone, never a missing one, while writers replace it
// (run with -race).
func TestStoreConcurrent(t *testing.T) {
	s := NewStore()
	s.Set(zoneFor(t, "example.test.", 0))
	zs := make([]*Zone, 50)
	for i := range zs {
		zs[i] = zoneFor(t, "example.test.", i+1)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s.Match("www.example.test.") == nil {
					t.Error("zone missing during replace")
					return
				}
			}
		})
	}
	for _, z := range zs {
		s.Set(z)
		s.Set(zoneFor(t, "other.test.", 1))
		s.Remove("other.test.")
	}
	close(stop)
	wg.Wait()
	if s.Get("example.test.").Serial() != 50 {
		t.Errorf("final serial %d", s.Get("example.test.").Serial())
	}
}

// TestStoreSetAll: many zones are added in one call; replacing a served zone swaps its
// snapshot without copying the map (no allocation), and readers see the new one.
func TestStoreSetAll(t *testing.T) {
	s := NewStore()
	var zs []*Zone
	for _, o := range []string{"a.test.", "b.test.", "c.b.test."} {
		zs = append(zs, Unavailable(o))
	}
	g := s.Generation()
	s.SetAll(zs...)
	if s.Generation() == g {
		t.Error("SetAll did not change the generation")
	}
	if got := s.Match("x.c.b.test."); got != zs[2] {
		t.Errorf("Match = %v, want the child zone", got)
	}
	if got := len(s.All()); got != 3 {
		t.Errorf("All has %d zones, want 3", got)
	}
	repl := Failed("b.test.", "broken")
	if n := testing.AllocsPerRun(10, func() { s.Set(repl) }); n != 0 {
		t.Errorf("replacing a zone allocates %v times: the map was copied", n)
	}
	if got := s.Get("b.test."); got != repl {
		t.Errorf("Get after the replacement = %v", got)
	}
	s.Remove("B.test")
	if s.Get("b.test.") != nil || s.Match("x.b.test.") != nil || s.Get("c.b.test.") != zs[2] {
		t.Error("Remove removed the wrong zones")
	}
}
