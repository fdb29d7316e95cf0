// Package systemdtest checks systemd unit files in tests with
// systemd-analyze verify, the way systemd itself would read them.
package systemdtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"keypool/internal/dirtest"
)

// Verify runs systemd-analyze verify on the unit at path (a system unit,
// or a user unit when system is false) and wants no complaint. Without
// systemd-analyze it skips, but under make test it fails.
func Verify(t *testing.T, path string, system bool) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("KEYPOOL_REQUIRE_KEYRING") == "1" { // under make test
			t.Fatal("systemd-analyze is missing (Debian package systemd)")
		}
		t.Skip("systemd-analyze is missing (Debian package systemd)")
	}
	cmd := exec.Command(sa, "verify", path)
	if !system {
		// The user manager's checks need a runtime dir of their own.
		run := dirtest.New(t)
		os.Chmod(run, 0o700)
		cmd = exec.Command(sa, "--user", "verify", path)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+run)
	}
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze %s: %v\n%s\nwant no complaint", strings.Join(cmd.Args[1:], " "), err, out)
	}
}
