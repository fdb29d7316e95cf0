//go:build !linux

package disktest

import "testing"

// FS is the mounted file system as the test body sees it.
type FS struct {
	Dir string
}

// Run skips: mount namespaces are Linux's.
func Run(t *testing.T, size string, body func(t *testing.T, fs *FS)) {
	t.Skip("a file system in a mount namespace needs Linux")
}

// RunExt4 skips: mount namespaces are Linux's.
func RunExt4(t *testing.T, size string, body func(t *testing.T, fs *FS)) {
	t.Skip("an ext4 image in a mount namespace needs Linux")
}

// Fill, Free, SetReadOnly and Break are never reached: Run skips first.
func (fs *FS) Fill(t *testing.T)                 {}
func (fs *FS) Free(t *testing.T)                 {}
func (fs *FS) SetReadOnly(t *testing.T, ro bool) {}
func (fs *FS) Break(t *testing.T)                {}
