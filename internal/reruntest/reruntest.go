// Package reruntest runs the current test again, alone, in a child process
// that something wraps (a mount namespace, a private keyring session), and
// reports the child's result as the test's own.
package reruntest

import (
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Args is the command line that runs t (a top-level test) alone in this test
// binary: verbose, once, with a timeout, and keeping its artifacts where the
// parent keeps its own, for the secret scan after a run with -artifacts.
func Args(t *testing.T) []string {
	args := []string{os.Args[0], "-test.run=^" + regexp.QuoteMeta(t.Name()) + "$",
		"-test.count=1", "-test.v", "-test.timeout=3m"}
	if a := flag.Lookup("test.artifacts"); a != nil && a.Value.String() == "true" {
		if o := flag.Lookup("test.outputdir"); o != nil && o.Value.String() != "" {
			args = append(args, "-test.artifacts", "-test.outputdir="+o.Value.String())
		}
	}
	return args
}

// Report logs the child's output under where, skips t if the child skipped,
// and fails t unless the child passed.
func Report(t *testing.T, where string, out []byte, err error) {
	t.Helper()
	t.Logf("%s:\n\t%s", where, strings.ReplaceAll(strings.TrimRight(string(out), "\n"), "\n", "\n\t"))
	if err == nil && strings.Contains(string(out), "--- SKIP: "+t.Name()+" (") {
		t.Skip("the child test skipped (see its output above)")
	}
	if err != nil {
		t.Fatalf("child test: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()+" (") {
		t.Fatal("child test did not report a pass")
	}
}
