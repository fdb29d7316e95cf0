//go:build unix

package app

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// writableBy says why the user called name ("": whoever runs this) cannot
// make files in dir; nil when it can. For this process's own user the
// kernel is asked (ACLs, a read-only mount); for another (sudo installing
// a unit for the user who ran it), the folder's owner, group and mode
// bits are read.
func writableBy(dir, name string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("%s cannot be written: %w", dir, err)
	}
	if name == "" {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("who is %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil || uid == os.Geteuid() || uid == 0 {
		return nil // the kernel answered for this user above; root writes anywhere
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	groups, _ := u.GroupIds()
	perm := fi.Mode().Perm()
	var can bool
	switch {
	case int(st.Uid) == uid:
		can = perm&0o300 == 0o300
	case slices.Contains(groups, strconv.FormatUint(uint64(st.Gid), 10)):
		can = perm&0o030 == 0o030
	default:
		can = perm&0o003 == 0o003
	}
	if !can {
		return fmt.Errorf("%s cannot write %s (owner uid %d, mode %s)", name, dir, st.Uid, fi.Mode())
	}
	return nil
}
