// Package dirtest gives tests their scratch directories. Each lives in the
// test's artifact directory: a run with -artifacts (as `make test` does) keeps
// it, so the secret scan that follows the suite sees every database and log
// the tests wrote; otherwise it goes with the test, as t.TempDir's would.
package dirtest

import (
	"os"
	"testing"
)

// New returns a new, empty directory for t. A benchmark gets a temporary
// one: it runs its function more than once, and its artifact directory does
// not outlive the first run.
func New(t testing.TB) string {
	t.Helper()
	if _, ok := t.(*testing.B); ok {
		return t.TempDir()
	}
	d, err := os.MkdirTemp(t.ArtifactDir(), "d")
	if err != nil {
		t.Fatalf("make a test dir: %v", err)
	}
	return d
}
