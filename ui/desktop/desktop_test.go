//go:build cgo

package desktop

import (
	"errors"
	"io"
	"runtime"
	"testing"

	"keypool/app"
	"keypool/app/cli"
)

// Without a display the desktop app shows nothing and opens nothing: it
// says so at once, and the command runs the relay headless instead.
func TestRunWithoutDisplay(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("macOS and Windows always have a display")
	}
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	err := Run(t.Context(), app.Params{DataDir: t.TempDir()}, true, io.Discard, io.Discard)
	if !errors.Is(err, cli.ErrNoWindow) {
		t.Fatalf("Run with no display = %v, want cli.ErrNoWindow", err)
	}
}
