// Package resolvertest drives real DNS tools — the unbound validating resolver, delv,
// dig and kdig — from Go tests, so integration tests can check that Signet's answers
// validate in the resolvers that matter, not only in our own code.
//
// It is test-support code: import it only from _test.go files. Every helper takes a
// testing.TB, fails the test on error, and registers its own cleanup (child processes
// are killed by PID, temporary files removed). A missing binary skips the test, except
// when CI=true, where it fails and names scripts/install-test-deps.sh, so CI can never
// pass by silently skipping the validators.
//
// A typical validation test, with addr the server under test and ds its DS record:
//
//	u := resolvertest.StartUnbound(t, resolvertest.UnboundConfig{
//		Stubs:   map[string]string{"example.test.": addr},
//		Anchors: []string{ds.String()},
//	})
//	r := u.Query(t, "www.example.test.", dns.TypeA)
//	if r.Rcode != dns.RcodeSuccess || !r.AuthenticatedData {
//		t.Fatalf("not validated:\n%v", r) // unbound's log, with the reason, follows
//	}
//	if out, ok := resolvertest.Delv(t, addr, []dns.RR{ds}, "www.example.test", "A"); !ok {
//		t.Fatalf("delv:\n%s", out)
//	}
//
// Everything listens on loopback only. The package imports miekg/dns and the standard
// library, and no other Signet package; the authtest subpackage adds a tiny signed
// authoritative server for testing the harness itself.
package resolvertest
