//go:build linux

package disktest

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"keypool/internal/dirtest"
	"keypool/internal/reruntest"
)

const (
	envDir  = "KEYPOOL_DISKTEST_DIR"
	envTest = "KEYPOOL_DISKTEST_TEST"
	envSize = "KEYPOOL_DISKTEST_SIZE"
	envKind = "KEYPOOL_DISKTEST_KIND"
)

// FS is the mounted file system as the test body sees it.
type FS struct {
	Dir    string // the mount point; empty and owned by the test
	filler string
	kind   string
}

// Run runs body with a fresh tmpfs of the given size (in tmpfs's syntax,
// "256k") mounted at disk.Dir. t must be a top-level test: it is re-run by name.
func Run(t *testing.T, size string, body func(t *testing.T, disk *FS)) {
	t.Helper()
	run(t, "tmpfs", size, body)
}

// RunExt4 runs body with a fresh ext4 file system of the given size (in
// truncate's syntax, "16M") mounted at disk.Dir with errors=remount-ro, so that
// Break makes it read-only under the test's open files, as a failing disk
// would.
func RunExt4(t *testing.T, size string, body func(t *testing.T, disk *FS)) {
	t.Helper()
	if os.Getenv(envTest) != t.Name() {
		if os.Geteuid() != 0 {
			t.Skip("an ext4 image on a loop device needs root")
		}
		if _, err := os.Stat("/dev/loop-control"); err != nil {
			t.Skipf("no loop devices here: %v", err)
		}
		if _, err := exec.LookPath("mkfs.ext4"); err != nil {
			t.Skip("mkfs.ext4 is missing (Debian package e2fsprogs)")
		}
	}
	run(t, "ext4", size, body)
}

func run(t *testing.T, kind, size string, body func(t *testing.T, disk *FS)) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("a file system in a mount namespace needs Linux")
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatal("disktest must be called from a top-level test")
	}
	if os.Getenv(envTest) == t.Name() {
		child(t, body)
		return
	}

	dir := dirtest.New(t)
	args := reruntest.Args(t)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), envTest+"="+t.Name(), envDir+"="+dir, envSize+"="+size, envKind+"="+kind)
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
	if err != nil && errors.As(err, &pe) && len(out) == 0 {
		// clone refused: no user namespaces for this user, or root in a
		// container without CAP_SYS_ADMIN.
		t.Skipf("cannot create a mount namespace here (%v); run as root with CAP_SYS_ADMIN, or allow unprivileged user namespaces", err)
	}
	reruntest.Report(t, "in a private mount namespace", out, err)
}

func child(t *testing.T, body func(t *testing.T, disk *FS)) {
	dir, kind := os.Getenv(envDir), os.Getenv(envKind)
	// Keep every mount made here out of the parent's namespace.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		skipIfRefused(t, err)
		t.Fatalf("make mounts private: %v", err)
	}
	img := dir + ".img"
	switch kind {
	case "tmpfs":
		if err := syscall.Mount("keypool-test", dir, "tmpfs", 0, "size="+os.Getenv(envSize)+",mode=0700"); err != nil {
			skipIfRefused(t, err)
			t.Fatalf("mount tmpfs on %s: %v", dir, err)
		}
	case "ext4":
		for _, c := range [][]string{
			{"truncate", "-s", os.Getenv(envSize), img},
			{"mkfs.ext4", "-q", "-F", img},
			{"mount", "-o", "loop,errors=remount-ro", img, dir},
		} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
			}
		}
	default:
		t.Fatalf("unknown file system kind %q", kind)
	}
	disk := &FS{Dir: dir, kind: kind}
	t.Cleanup(func() {
		// Keep what the test wrote, beside the mount point, for the secret
		// scan that follows a run with -artifacts.
		if disk.filler != "" {
			_ = os.Remove(disk.filler)
		}
		if err := copyFiles(dir+".contents", dir); err != nil {
			t.Logf("keep the file system's files: %v", err)
		}
		_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		_ = os.Remove(img)
	})
	body(t, disk)
}

// skipIfRefused skips the test when the system does not let it mount here
// (a security module restricting user namespaces, say), which is no fault
// of the code under test.
func skipIfRefused(t *testing.T, err error) {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		t.Skipf("mounting is not allowed here: %v", err)
	}
}

// Break makes an ext4 file system record an error, which its errors=remount-ro
// option answers by turning it read-only at once, open files included.
func (disk *FS) Break(t *testing.T) {
	t.Helper()
	if disk.kind != "ext4" {
		t.Fatal("Break needs RunExt4")
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		t.Fatal(err)
	}
	dev := ""
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[1] == disk.Dir && f[2] == "ext4" {
			dev = filepath.Base(f[0])
		}
	}
	if dev == "" {
		t.Fatalf("%s is not an ext4 mount", disk.Dir)
	}
	if err := os.WriteFile("/sys/fs/ext4/"+dev+"/trigger_fs_error", []byte("1"), 0); err != nil {
		t.Fatalf("trigger an ext4 error on %s: %v", dev, err)
	}
}

// Fill writes a filler file until the tmpfs has no space left.
func (disk *FS) Fill(t *testing.T) {
	t.Helper()
	disk.filler = filepath.Join(disk.Dir, "filler")
	f, err := os.OpenFile(disk.filler, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
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
func (disk *FS) Free(t *testing.T) {
	t.Helper()
	if err := os.Remove(disk.filler); err != nil {
		t.Fatalf("free: %v", err)
	}
}

// SetReadOnly remounts the tmpfs read-only, or back to read-write. Linux
// refuses to make it read-only while a file on it is open for writing.
func (disk *FS) SetReadOnly(t *testing.T, ro bool) {
	t.Helper()
	flags := uintptr(syscall.MS_REMOUNT)
	if ro {
		flags |= syscall.MS_RDONLY
	}
	if err := syscall.Mount("", disk.Dir, "", flags, ""); err != nil {
		t.Fatalf("remount %s (read-only %v): %v", disk.Dir, ro, err)
	}
}

// copyFiles copies the regular files under src to dst, keeping the tree
// (os.CopyFS would stop at a socket left behind).
func copyFiles(dst, src string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
}
