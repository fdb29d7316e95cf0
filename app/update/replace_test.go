package update

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// failRename makes rename fail the first move onto dst.
func failRename(t *testing.T, dst string) {
	t.Helper()
	t.Cleanup(func() { rename = os.Rename })
	failed := false
	rename = func(from, to string) error {
		if to == dst && !failed {
			failed = true
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: errors.New("refused by the test")}
		}
		return os.Rename(from, to)
	}
}

// asOnWindows takes Replace's Windows path (the running executable
// renamed aside), or not, for the rest of the test.
func asOnWindows(t *testing.T, windows bool) {
	t.Cleanup(func() { renameRunning = runtime.GOOS == "windows" })
	renameRunning = windows
}

// Replace, whichever path it takes, leaves a whole executable and a whole
// previous version whatever step fails.
func TestReplaceFailures(t *testing.T) {
	for _, tt := range []struct {
		name     string
		windows  bool
		failOnto func(exe string) string // the move that fails
		// What the executable and .previous hold after the failure.
		wantExe, wantPrev string
	}{
		{"new_version_refused", false, func(exe string) string { return exe }, "running", "running"},
		{"keeping_refused", false, func(exe string) string { return exe + ".previous" }, "running", "kept before"},
		{"windows_new_version_refused", true, func(exe string) string { return exe }, "running", "kept before"},
		{"windows_keeping_refused", true, func(exe string) string { return exe + ".previous" }, "running", "kept before"},
		{"windows_stepping_aside_refused", true, func(exe string) string { return exe + ".previous.old" }, "running", "kept before"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			asOnWindows(t, tt.windows)
			exe := filepath.Join(t.TempDir(), "keypool")
			os.WriteFile(exe, []byte("running"), 0o755)
			os.WriteFile(exe+".previous", []byte("kept before"), 0o755)
			failRename(t, tt.failOnto(exe))
			if err := Replace(exe, []byte("new")); err == nil {
				t.Fatal("Replace with a refused rename: nil error")
			}
			if got, err := os.ReadFile(exe); err != nil || string(got) != tt.wantExe {
				t.Errorf("the executable holds %q (%v), want %q", got, err, tt.wantExe)
			}
			if got, _ := os.ReadFile(exe + ".previous"); string(got) != tt.wantPrev {
				t.Errorf(".previous holds %q, want %q", got, tt.wantPrev)
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), ".keypool*"))
			old, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), "*.old"))
			if left = append(left, old...); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
		})
	}
}

// On Windows the running executable is renamed aside, not linked: the
// update and its rollback work that way too.
func TestInstallAndRollbackAsOnWindows(t *testing.T) {
	asOnWindows(t, true)
	f := newFeed(t)
	exe := filepath.Join(t.TempDir(), "keypool")
	os.WriteFile(exe, []byte("1.4.0"), 0o755)
	f.publish(t, "1.5.0", []byte("1.5.0"))
	if _, err := f.checker("1.4.0").Install(context.Background(), exe); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct{ exe, prev string }{{"1.5.0", "1.4.0"}, {"1.4.0", "1.5.0"}, {"1.5.0", "1.4.0"}} {
		got, _ := os.ReadFile(exe)
		prev, _ := os.ReadFile(exe + ".previous")
		if string(got) != step.exe || string(prev) != step.prev {
			t.Fatalf("executable %q, previous %q; want %q, %q", got, prev, step.exe, step.prev)
		}
		if err := Rollback(exe); err != nil {
			t.Fatal(err)
		}
	}
}

// A link to the executable stays a link: the file it names is replaced.
func TestReplaceThroughALink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need a privilege on Windows")
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "opt", "keypool")
	os.MkdirAll(filepath.Dir(real), 0o755)
	os.WriteFile(real, []byte("old"), 0o755)
	link := filepath.Join(dir, "keypool")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := Replace(link, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link became %v (%v), want it a link still", fi.Mode(), err)
	}
	if got, _ := os.ReadFile(real); string(got) != "new" {
		t.Errorf("the linked file holds %q, want new", got)
	}
	if got, _ := os.ReadFile(real + ".previous"); string(got) != "old" {
		t.Errorf("the previous version beside the linked file holds %q, want old", got)
	}
}

// The binary inside a macOS app is not replaced alone: the app is signed
// whole.
func TestInstallLeavesAnAppBundle(t *testing.T) {
	f := newFeed(t)
	exe := filepath.Join(t.TempDir(), "Keypool.app", "Contents", "MacOS", "keypool")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	os.WriteFile(exe, []byte("app"), 0o755)
	f.publish(t, "1.5.0", []byte("new"))
	if _, err := f.checker("1.4.0").Install(context.Background(), exe); !errors.Is(err, ErrAppBundle) {
		t.Fatalf("Install inside Keypool.app: %v, want ErrAppBundle", err)
	}
	if got, _ := os.ReadFile(exe); string(got) != "app" {
		t.Error("the app's binary was changed")
	}
	// Nor is a binary kept beside it by an older build put back alone.
	os.WriteFile(exe+".previous", []byte("older"), 0o755)
	if err := Rollback(exe); !errors.Is(err, ErrAppBundle) {
		t.Errorf("Rollback inside Keypool.app: %v, want ErrAppBundle", err)
	}
	if got, _ := os.ReadFile(exe); string(got) != "app" {
		t.Error("the app's binary was rolled back alone")
	}
}

// Each archive format a release ships: the Windows zip, the Linux
// tar.xz; an entry that is not a regular file is never taken.
func TestBinaryOfEachFormat(t *testing.T) {
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for name, body := range map[string]string{"keypool-1.5.0/keypool.exe": "desktop exe", "keypool-1.5.0/keypool-headless.exe": "headless exe"} {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()

	tarXz := func(link bool) []byte {
		var buf bytes.Buffer
		xw, err := xz.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		tw := tar.NewWriter(xw)
		if link {
			tw.WriteHeader(&tar.Header{Name: "usr/local/bin/keypool", Typeflag: tar.TypeSymlink, Linkname: "/bin/sh"})
		} else {
			tw.WriteHeader(&tar.Header{Name: "usr/local/bin/keypool", Mode: 0o755, Size: 7, Typeflag: tar.TypeReg})
			tw.Write([]byte("desktop"))
		}
		tw.Close()
		xw.Close()
		return buf.Bytes()
	}
	for _, tt := range []struct {
		name, file string
		data       []byte
		flavor     string
		want       string
		wantErr    error
	}{
		{"zip_desktop", "k.zip", zbuf.Bytes(), Desktop, "desktop exe", nil},
		{"zip_headless", "k.zip", zbuf.Bytes(), Headless, "headless exe", nil},
		{"tar_xz", "k.tar.xz", tarXz(false), Desktop, "desktop", nil},
		{"tar_xz_link", "k.tar.xz", tarXz(true), Desktop, "", ErrNoBinary},
	} {
		got, err := Binary(tt.file, tt.data, tt.flavor)
		if !errors.Is(err, tt.wantErr) || string(got) != tt.want {
			t.Errorf("%s: Binary = %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestReleaseURL(t *testing.T) {
	for u, want := range map[string]bool{
		"https://github.com/keypool/keypool/releases/tag/v1.5.0": true,
		"http://127.0.0.1:8080/latest.json":                      true,
		"http://[::1]/k.zip":                                     true,
		"http://localhost/k.zip":                                 true,
		"http://example.com/k.zip":                               false,
		"file:///etc/passwd":                                     false,
		`\\server\share\keypool.exe`:                             false,
		"https://user:pw@example.com/k.zip":                      false,
		"javascript:alert(1)":                                    false,
		"":                                                       false,
	} {
		if got := ReleaseURL(u); got != want {
			t.Errorf("ReleaseURL(%q) = %v, want %v", u, got, want)
		}
	}
}

// A second update waits for none: it is refused while the first holds
// the lock, from another process too, and the lock ends with its holder.
func TestLock(t *testing.T) {
	exe := filepath.Join(t.TempDir(), "keypool")
	unlock, err := Lock(exe)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(exe); !errors.Is(err, ErrBusy) {
		t.Fatalf("a second Lock while the first holds: %v, want ErrBusy", err)
	}
	if _, err := Lock(exe + "-other"); err != nil {
		t.Errorf("Lock of another executable: %v, want it free", err)
	}
	// Another process: this test binary, asked to lock exe and say so.
	other := func() string {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "KEYPOOL_LOCK_EXE="+exe)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	if out := other(); !strings.Contains(out, "busy") {
		t.Errorf("another process locking while this one holds: %q, want busy", out)
	}
	unlock()
	if out := other(); !strings.Contains(out, "locked") {
		t.Errorf("another process locking after unlock: %q, want locked", out)
	}
	again, err := Lock(exe) // the other process ended: its lock with it
	if err != nil {
		t.Fatalf("Lock after the other process ended: %v", err)
	}
	again()
}

// TestMain is also TestLock's other process, when asked: it locks the
// executable named, says whether it could, and ends (its lock with it).
func TestMain(m *testing.M) {
	if exe := os.Getenv("KEYPOOL_LOCK_EXE"); exe != "" {
		if _, err := Lock(exe); errors.Is(err, ErrBusy) {
			fmt.Println("busy")
		} else if err == nil {
			fmt.Println("locked")
		} else {
			fmt.Println(err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
