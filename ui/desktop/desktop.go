//go:build cgo

// Package desktop starts the desktop app: it sets up the log and the
// keychain, opens the core app (or brings forward the Keypool already
// running on the same data), and hands both to ui.Run, which owns Fyne's
// lifecycle. The desktop app needs cgo (Fyne draws with OpenGL through
// it); a build without cgo (make build-headless) has nocgo.go instead and
// links no GUI module at all.
package desktop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"time"

	"keypool/app"
	"keypool/app/cli"
	"keypool/ui"
)

// hasDisplay reports whether a window can be shown: always on macOS and
// Windows; on Linux and the BSDs only with an X or Wayland display.
func hasDisplay() bool {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return true
	}
	return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != ""
}

// Run runs Keypool as a person uses it: the relay in-process with the app's
// own accounts, a window (unless hidden: the tray only, as at login), and
// the tray. Without a display it returns cli.ErrNoWindow at once.
func Run(ctx context.Context, p app.Params, hidden bool, stdout, stderr io.Writer) error {
	if !hasDisplay() {
		return fmt.Errorf("%w: no display", cli.ErrNoWindow)
	}
	// A config that does not load is reported by Open, in the window.
	setup, setupErr := app.Resolve(p)
	// Started from the desktop, nobody reads stderr: log to a file in the
	// data dir too.
	logOut := io.Writer(stderr)
	if setupErr == nil {
		if lf, err := app.OpenLogFile(setup.Files.Log(), 0); err == nil {
			defer lf.Close()
			logOut = fanOut{lf, stderr}
		} else {
			fmt.Fprintln(stderr, "keypool: logging to stderr only:", err)
		}
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p.Logger = log
	p.Keychain = app.UserKeychain()
	core, err := app.Open(p)
	if errors.Is(err, app.ErrLocked) {
		// One Keypool per data dir: bring the running one forward.
		if serr := app.ShowRunning(setup.Files.DB); serr == nil {
			fmt.Fprintln(stdout, "Keypool is already running; its window is brought forward.")
			return nil
		}
	}
	opened := false // the first Open is the one above
	return ui.Run(ctx, ui.Options{
		Hidden: hidden,
		Log:    log,
		Open: func() (ui.Runner, error) {
			c, err := core, err
			if opened {
				c, err = app.Open(p)
			}
			opened = true
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Fixes: func(err error, retry func() error) []ui.Fix { return fixes(setup.Files, err, retry, log) },
	})
}

// fixes are what the startup error window offers for err besides trying
// again: for a damaged database, keeping it aside and starting with an
// empty one.
func fixes(files app.Files, err error, retry func() error, log *slog.Logger) []ui.Fix {
	if !errors.Is(err, app.ErrCorrupt) {
		return nil
	}
	moved := false
	return []ui.Fix{{Label: "Keep the damaged file aside and start empty",
		Note: "the file is renamed, not deleted; your accounts were listed in it, so add them again (their secrets are still in the keychain)",
		Do: func() error {
			// Once: if the start then fails for another reason, the
			// file now at path is the new one, not the damaged one.
			if !moved {
				kept, err := files.MoveDatabaseAside(time.Now())
				if err != nil {
					return err
				}
				moved = true
				log.Warn("damaged database kept aside; starting with an empty one", "kept", kept)
			}
			return retry()
		}}}
}

// fanOut writes to every writer, whatever the others do: a Windows GUI
// build has no stderr at all, and the log file must get the lines anyway.
type fanOut []io.Writer

func (f fanOut) Write(p []byte) (int, error) {
	var first error
	for _, w := range f {
		if _, err := w.Write(p); err != nil && first == nil {
			first = err
		}
	}
	return len(p), first
}
