package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"keypool/app/version"
	"keypool/internal/systemdtest"
)

// makeCmd runs a target of the repository's Makefile with vars, not with
// the flags of a make test this runs under, and stops it after at most
// nine minutes (or before the test's own deadline).
func makeCmd(t *testing.T, target string, vars ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(deadline(t, 9*time.Minute), "make", append([]string{"--no-print-directory", target}, vars...)...)
	cmd.Dir = "../.."
	cmd.Env = envWithout(os.Environ(), "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// deadline is a context that ends after d, or shortly before the test
// binary's deadline.
func deadline(t *testing.T, d time.Duration) context.Context {
	end := time.Now().Add(d)
	if td, ok := t.Deadline(); ok && td.Add(-30*time.Second).Before(end) {
		end = td.Add(-30 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), end)
	t.Cleanup(cancel)
	return ctx
}

func envWithout(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, name) {
			out = append(out, kv)
		}
	}
	return out
}

// command runs name with args, for at most two minutes, and returns its
// combined output.
func command(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(deadline(t, 2*time.Minute), name, args...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pkgStatus is dpkg's status of a package: "installed", "config-files"
// and so on, or "" when dpkg knows no such package.
func pkgStatus(t *testing.T, name string) string {
	t.Helper()
	cmd := exec.CommandContext(deadline(t, time.Minute), "dpkg-query", "--show", "--showformat", "${db:Status-Status}", name)
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

// The files every package holds, as installed.
var packaged = []string{
	"/usr/bin/keypool",
	"/usr/bin/keypool-headless",
	"/usr/lib/systemd/system/keypool.service",
	"/usr/lib/systemd/user/keypool.service",
	"/usr/share/applications/app.keypool.keypool.desktop",
	"/usr/share/doc/keypool/LICENSE.genai-prices",
	"/usr/share/doc/keypool/README.md",
	"/usr/share/doc/keypool/config.example.toml",
	"/usr/share/icons/hicolor/256x256/apps/app.keypool.keypool.png",
}

// The version the test builds with, as keypool version prints it and as
// the packages carry it.
const (
	testDescribe = "v1.2.3-4-gabcdef123456"
	testCommit   = "abcdef123456"
	testDebVer   = "1.2.3+4.gabcdef123456-1"
)

// make package-linux writes the .deb and .rpm (here into a scratch dir,
// with both binaries built there at a version of the test's own). Both
// hold the binaries, the icon, the .desktop entry, the units and the docs
// at their places, at that version: dpkg-deb and rpm -qlp read them where
// they are installed. As root with dpkg, the .deb is installed: keypool
// version, desktop-file-validate on the entry and systemd-analyze verify
// on the units, then dpkg -r leaves none of its files behind and dpkg -P
// forgets it.
func TestPackages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the .deb and .rpm are built on Linux")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skipf("make is missing: %v", err)
	}
	dir := t.TempDir()
	deb, rpm := filepath.Join(dir, "keypool.deb"), filepath.Join(dir, "keypool.rpm")
	start := time.Now()
	// DEB_PKGS empty: the test installs no Debian package; make test's
	// deps has installed them.
	cmd := makeCmd(t, "package-linux", "DEB_PKGS=", "DESCRIBE="+testDescribe, "COMMIT="+testCommit,
		"BIN="+filepath.Join(dir, "keypool"), "HEADLESS_BIN="+filepath.Join(dir, "keypool-headless"),
		"NFPM_CONFIG="+filepath.Join(dir, "nfpm", "nfpm.yaml"), "DEB="+deb, "RPM="+rpm)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package-linux: %v\n%s", err, out)
	}
	t.Logf("make package-linux: %s", time.Since(start).Round(time.Second))
	wantVersion := version.FromDescribe(testDescribe, testCommit)

	t.Run("rpm", func(t *testing.T) {
		if _, err := exec.LookPath("rpm"); err != nil {
			t.Skip("rpm is missing: the .rpm is not read")
		}
		out, err := command(t, "rpm", "-qlp", rpm)
		if err != nil {
			t.Fatalf("rpm -qlp: %v\n%s", err, out)
		}
		if got := strings.Fields(out); !slices.Equal(got, packaged) {
			t.Errorf("rpm -qlp: %q\nwant %q", got, packaged)
		}
		out, err = command(t, "rpm", "-qp", "--queryformat", "%{VERSION}-%{RELEASE}", rpm)
		if err != nil || out != testDebVer {
			t.Errorf("the .rpm's version: %q, %v; want %s", out, err, testDebVer)
		}
	})

	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is missing: the .deb is neither read nor installed (Debian's dpkg)")
	}
	out, err := command(t, "dpkg-deb", "--show", "--showformat", "${Package} ${Version} ${Depends}", deb)
	if err != nil {
		t.Fatalf("dpkg-deb --show: %v\n%s", err, out)
	}
	fields := strings.SplitN(out, " ", 3)
	if len(fields) != 3 || fields[0] != "keypool" || fields[1] != testDebVer {
		t.Fatalf("the .deb is %q, want keypool %s", out, testDebVer)
	}
	depends := strings.Split(fields[2], ", ")
	out, err = command(t, "dpkg-deb", "--contents", deb)
	if err != nil {
		t.Fatalf("dpkg-deb --contents: %v\n%s", err, out)
	}
	var files []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if !strings.HasPrefix(f[0], "d") {
			files = append(files, strings.TrimPrefix(f[len(f)-1], "."))
		}
	}
	if !slices.Equal(files, packaged) {
		t.Errorf("the .deb holds %q\nwant %q", files, packaged)
	}

	// Installing it, for real.
	if os.Geteuid() != 0 {
		t.Skip("not root: the .deb is not installed (the test installs it as root, as CI runs)")
	}
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg is missing: the .deb is not installed")
	}
	if status := pkgStatus(t, "keypool"); status != "" && status != "not-installed" {
		t.Skipf("a keypool package is on this machine (%s): the test leaves it alone", status)
	}
	for _, f := range packaged {
		if _, err := os.Lstat(f); err == nil {
			t.Skipf("%s is already there: the test would replace it", f)
		}
	}
	for _, d := range depends {
		name := strings.Fields(d)[0]
		if status := pkgStatus(t, name); status != "installed" {
			t.Skipf("the .deb depends on %s, which is not installed: dpkg -i would leave it half-configured", name)
		}
	}
	t.Cleanup(func() { // whatever failed, the machine keeps no keypool
		if status := pkgStatus(t, "keypool"); status != "" && status != "not-installed" {
			if out, err := command(t, "dpkg", "--purge", "keypool"); err != nil {
				t.Errorf("dpkg --purge keypool: %v\n%s", err, out)
			}
		}
	})
	start = time.Now()
	if out, err := command(t, "dpkg", "--install", deb); err != nil {
		if strings.Contains(out, "lock") {
			t.Skipf("dpkg --install: the dpkg database is locked by something else:\n%s", out)
		}
		t.Fatalf("dpkg --install: %v\n%s", err, out)
	}
	out, err = command(t, "dpkg-query", "--listfiles", "keypool")
	if err != nil {
		t.Fatalf("dpkg -L keypool: %v\n%s", err, out)
	}
	installed := strings.Fields(out)
	for _, f := range packaged {
		if !slices.Contains(installed, f) {
			t.Errorf("dpkg -L keypool has no %s", f)
		}
	}

	for _, bin := range []string{"/usr/bin/keypool-headless", "/usr/bin/keypool"} {
		out, err := command(t, bin, "version")
		if want := "keypool " + wantVersion + " (commit " + testCommit + ", built "; err != nil || !strings.HasPrefix(out, want) {
			t.Errorf("%s version: %v\n%s\nwant %s…", bin, err, out, want)
		}
	}

	entry := "/usr/share/applications/app.keypool.keypool.desktop"
	if _, err := exec.LookPath("desktop-file-validate"); err == nil {
		out, err := command(t, "desktop-file-validate", entry)
		if err != nil || strings.Contains(out, "error:") || strings.Contains(out, "warning:") {
			t.Errorf("desktop-file-validate %s: %v\n%s\nwant no error or warning", entry, err, out)
		} else if out != "" {
			t.Logf("desktop-file-validate %s (hints only):\n%s", entry, out)
		}
	} else if os.Getenv("KEYPOOL_REQUIRE_KEYRING") == "1" { // under make test
		t.Error("desktop-file-validate is missing (desktop-file-utils)")
	}
	t.Run("systemd-analyze", func(t *testing.T) {
		systemdtest.Verify(t, "/usr/lib/systemd/system/keypool.service", true)
		systemdtest.Verify(t, "/usr/lib/systemd/user/keypool.service", false)
	})

	// Removed, it leaves nothing: each file is gone, and each folder too,
	// unless something else keeps it (files of other packages, or the
	// folder itself is another package's).
	if out, err := command(t, "dpkg", "--remove", "keypool"); err != nil {
		t.Fatalf("dpkg --remove keypool: %v\n%s", err, out)
	}
	for _, p := range installed {
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			t.Errorf("%s after dpkg -r: %v", p, err)
		case !fi.IsDir():
			t.Errorf("%s is still there after dpkg -r", p)
		default:
			entries, _ := os.ReadDir(p)
			if _, err := command(t, "dpkg-query", "--search", p); err != nil && len(entries) == 0 {
				t.Errorf("the folder %s is still there after dpkg -r, empty and no other package's", p)
			}
		}
	}
	if out, err := command(t, "dpkg", "--purge", "keypool"); err != nil {
		t.Fatalf("dpkg --purge keypool: %v\n%s", err, out)
	}
	if status := pkgStatus(t, "keypool"); status != "" && status != "not-installed" {
		t.Errorf("dpkg-query after dpkg -P: %q, want keypool not installed", status)
	}
	t.Logf("installed, checked and removed in %s", time.Since(start).Round(100*time.Millisecond))
}
