package app

import (
	"os"
	"path/filepath"
	"testing"

	"keypool/internal/dirtest"
)

// The status line runs the headless build when it sits beside the desktop
// binary (it starts faster), and the binary itself otherwise.
func TestStatusLineRunsHeadlessBeside(t *testing.T) {
	dir := dirtest.New(t)
	exe := filepath.Join(dir, "keypool")
	write := func(p string, mode os.FileMode) {
		t.Helper()
		if err := os.WriteFile(p, nil, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	write(exe, 0o755)
	if got := headlessBeside(exe); got != exe {
		t.Errorf("alone: %q, want the binary itself", got)
	}
	headless := filepath.Join(dir, "keypool-headless")
	write(headless, 0o644)
	if got := headlessBeside(exe); got != exe {
		t.Errorf("beside a headless build that cannot run: %q, want the binary itself", got)
	}
	write(headless, 0o755)
	if got := headlessBeside(exe); got != headless {
		t.Errorf("beside a headless build: %q, want %q", got, headless)
	}
	if got := headlessBeside(headless); got != headless {
		t.Errorf("the headless build itself: %q", got)
	}
}
