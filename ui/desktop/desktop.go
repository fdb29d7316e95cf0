//go:build cgo

// Package desktop runs the desktop app: it opens the core app, owns Fyne's
// lifecycle, and shows the window and the tray (package ui) until the
// person quits or the process is stopped. The desktop app needs cgo (Fyne
// draws with OpenGL through it); a build without cgo (make build-headless)
// has nocgo.go instead and links no GUI module at all.
package desktop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"golang.org/x/sync/errgroup"

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

	// The name the tray shows as its title; a build without fyne package
	// has no packaged metadata and would show the app id.
	fyneapp.SetMetadata(fyne.AppMetadata{ID: "app.keypool.keypool", Name: "Keypool", Version: app.Version().Version})
	fa := fyneapp.NewWithID("app.keypool.keypool")
	fa.SetIcon(ui.Icon)
	// runCtx is the core's and its window's lifetime: until Fyne's loop
	// ends, or Ctrl-C.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	d := &desktopRun{p: p, fa: fa, hidden: hidden, log: log}
	if err == nil {
		d.show(runCtx, core)
	} else {
		// Say it in a window too, with what can be done from there.
		log.Error("keypool cannot start", "err", err)
		ui.StartupError(fa, err, d.fixes(runCtx, setup.Files, err)...).Show()
	}
	// Ctrl-C quits the app too: the watcher asks Fyne to quit, on Fyne's
	// goroutine and only if its loop runs; it ends when Run does.
	finished := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() {
		select {
		case <-ctx.Done():
		case <-finished:
			return
		}
		if u := d.ui.Load(); u != nil {
			u.Stopping()
		}
		if d.loopRuns.Load() {
			fyne.Do(fa.Quit) // never blocks, even once the loop has ended
		}
	})
	// Started hidden, with a tray of its own, Keypool runs Fyne's loop only
	// once the window or the clipboard is wanted (ui/loop.go).
	runLoop := true
	if u := d.ui.Load(); u != nil && d.hidden && u.CanDeferLoop() {
		runLoop = u.WaitForLoop(ctx)
	}
	if runLoop {
		d.loopRuns.Store(true)
		if u := d.ui.Load(); u != nil {
			u.LoopStarting()
			u.ParkWhenIdle(runCtx)
		}
		fa.Run() // until Quit
	}
	// The loop has ended: the watcher stops, then the core and what
	// follows it, and last the core gives back its files.
	close(finished)
	watcher.Wait()
	stopRun()
	runErr := d.runs.Wait()
	if u := d.ui.Load(); u != nil {
		u.Wait() // the window's and tray's goroutines, before the core closes
	}
	if d.core == nil {
		return err
	}
	if cerr := d.core.Close(); runErr == nil {
		runErr = cerr
	}
	return runErr
}

// desktopRun is the desktop app once Fyne runs: the core app, opened at
// start or later from the startup error window, and its window and tray.
type desktopRun struct {
	p      app.Params
	fa     fyne.App
	hidden bool
	log    *slog.Logger

	core *app.App
	ui   atomic.Pointer[ui.UI] // set once shown; read by the Ctrl-C watcher
	runs errgroup.Group        // the core's Run; Run waits for it
	// loopRuns is set once Fyne's loop runs (on the main goroutine, before
	// anything opens the core from the startup error window).
	loopRuns atomic.Bool
}

// show runs core until ctx is done and shows its window (unless hidden)
// and tray, which follow it until then.
func (d *desktopRun) show(ctx context.Context, core *app.App) {
	d.core = core
	d.runs.Go(func() error { return core.Run(ctx) })
	u := ui.New(d.fa, core)
	d.ui.Store(u)
	core.OnShow(u.Show)
	u.Run(ctx, d.hidden)
	if d.loopRuns.Load() {
		u.LoopStarting() // opened from the startup error window
		u.ParkWhenIdle(ctx)
	}
	d.log.Info("keypool running", "url", core.URL())
}

// open tries to open the core app again and shows it, for ctx.
func (d *desktopRun) open(ctx context.Context) error {
	core, err := app.Open(d.p)
	if err != nil {
		return err
	}
	d.hidden = false // the person is looking at the error window
	d.show(ctx, core)
	return nil
}

// fixes are what the startup error window offers for err: for a damaged
// database, keeping it aside and starting with an empty one; always, trying
// again (after freeing the port, unlocking the data dir…). A core they
// open runs for ctx.
func (d *desktopRun) fixes(ctx context.Context, files app.Files, err error) []ui.Fix {
	open := func() error { return d.open(ctx) }
	var fixes []ui.Fix
	if errors.Is(err, app.ErrCorrupt) {
		moved := false
		fixes = append(fixes, ui.Fix{Label: "Keep the damaged file aside and start empty",
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
					d.log.Warn("damaged database kept aside; starting with an empty one", "kept", kept)
				}
				return open()
			}})
	}
	return append(fixes, ui.Fix{Label: "Try again", Do: open})
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
