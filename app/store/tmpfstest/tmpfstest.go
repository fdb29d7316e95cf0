// Package tmpfstest runs a test's body on a small, real tmpfs mounted in a
// private mount namespace, so the test can fill the disk or make it read-only
// without touching the machine. The test binary re-runs itself, for that one
// test, in the namespace; the parent reports the child's output and result.
// When the test ends, the tmpfs's files are copied beside its mount point
// (dir + ".contents"), so a run with -artifacts keeps them.
//
// It needs Linux and either root or unprivileged user namespaces.
package tmpfstest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"keypool/internal/dirtest"
)

const (
	envDir  = "KEYPOOL_TMPFS_DIR"
	envTest = "KEYPOOL_TMPFS_TEST"
	envSize = "KEYPOOL_TMPFS_SIZE"
)

// FS is the mounted tmpfs as the test body sees it.
type FS struct {
	Dir    string // the mount point; empty and owned by the test
	filler string
}

// Run runs body with a fresh tmpfs of the given size (in tmpfs's syntax,
// "256k") mounted at fs.Dir. t must be a top-level test: it is re-run by name.
func Run(t *testing.T, size string, body func(t *testing.T, fs *FS)) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("tmpfs in a mount namespace needs Linux")
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatal("tmpfstest.Run must be called from a top-level test")
	}
	if os.Getenv(envTest) == t.Name() {
		child(t, body)
		return
	}

	dir := dirtest.New(t)
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), envTest+"="+t.Name(), envDir+"="+dir, envSize+"="+size)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	if os.Geteuid() != 0 {
		// An unprivileged user becomes root of a user namespace of its own,
		// which may mount there and nowhere else.
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	out, err := cmd.CombinedOutput()
	var pe *os.PathError
	var se syscall.Errno
	if err != nil && os.Geteuid() != 0 && (errors.As(err, &pe) || errors.As(err, &se)) && len(out) == 0 {
		t.Skipf("cannot create a user namespace here (%v); run as root, or allow unprivileged user namespaces", err)
	}
	t.Logf("in a private mount namespace:\n%s", indent(out))
	if err != nil {
		t.Fatalf("child test: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child test did not report a pass")
	}
}

func child(t *testing.T, body func(t *testing.T, fs *FS)) {
	dir := os.Getenv(envDir)
	// Keep every mount made here out of the parent's namespace.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		t.Fatalf("make mounts private: %v", err)
	}
	if err := syscall.Mount("keypool-test", dir, "tmpfs", 0, "size="+os.Getenv(envSize)+",mode=0700"); err != nil {
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	fs := &FS{Dir: dir}
	t.Cleanup(func() {
		// Keep what the test wrote, beside the mount point, for the secret
		// scan that follows a run with -artifacts.
		if fs.filler != "" {
			_ = os.Remove(fs.filler)
		}
		if err := os.CopyFS(dir+".contents", os.DirFS(dir)); err != nil {
			t.Logf("keep the tmpfs's files: %v", err)
		}
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
	})
	body(t, fs)
}

// Fill writes a filler file until the tmpfs has no space left.
func (fs *FS) Fill(t *testing.T) {
	t.Helper()
	fs.filler = filepath.Join(fs.Dir, "filler")
	f, err := os.OpenFile(fs.filler, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("fill: %v", err)
	}
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			return
		}
	}
}

// Free removes what Fill wrote.
func (fs *FS) Free(t *testing.T) {
	t.Helper()
	if err := os.Remove(fs.filler); err != nil {
		t.Fatalf("free: %v", err)
	}
}

// SetReadOnly remounts the tmpfs read-only, or back to read-write. Linux
// refuses to make it read-only while a file on it is open for writing.
func (fs *FS) SetReadOnly(t *testing.T, ro bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT)
	if ro {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("", fs.Dir, "", flags, ""); err != nil {
		t.Fatalf("remount %s (read-only %v): %v", fs.Dir, ro, err)
	}
}

func indent(b []byte) string {
	return "\t" + strings.ReplaceAll(strings.TrimRight(string(b), "\n"), "\n", "\n\t")
}
