//go:build cgo

// Run needs Fyne's desktop driver, which draws with OpenGL through cgo; a
// build without cgo has no window (ui/desktop's nocgo.go says so).

package ui

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"golang.org/x/sync/errgroup"

	"keypool/app"
)

// Runner is a core app that runs: what the window shows (Core), and its
// lifetime, which Run owns once it is opened.
type Runner interface {
	Core
	// Run serves until ctx is done; Close then gives back its files.
	Run(ctx context.Context) error
	Close() error
	// OnShow sets what a request to show the window (a second Keypool
	// started on the same data) does.
	OnShow(func())
}

var _ Runner = (*app.App)(nil)

// Options are how Run starts the desktop app.
type Options struct {
	// Hidden starts with the tray only, as at login.
	Hidden bool
	Log    *slog.Logger
	// Open opens the core app (required): once as Run starts, and again
	// when a fix of the startup error window asks.
	Open func() (Runner, error)
	// Fixes are what the startup error window offers for err besides
	// "Try again"; retry opens the core app again and shows it.
	Fixes func(err error, retry func() error) []Fix
	// NewApp makes the Fyne app (nil: Fyne's own driver); tests run Run
	// on Fyne's test driver.
	NewApp func(id string) fyne.App
}

// appID names Keypool to the desktop: the tray's title, the window's
// class, the packages' desktop entry and icon (FyneApp.toml says it too).
const appID = "app.keypool.keypool"

// Run runs the desktop app until the person quits or ctx is done: it owns
// Fyne's lifecycle. It opens the core app and runs it under a context of
// its own, shows the window (unless hidden) and the tray; a core that
// cannot open is said in a window that offers its fixes. Once Fyne's
// loop ends, the core stops, every goroutine of the window and its
// dialogs ends, and last the core closes.
func Run(ctx context.Context, o Options) error {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	core, err := o.Open()
	// The name the tray shows as its title; a build without fyne package
	// has no packaged metadata and would show the app id.
	fyneapp.SetMetadata(fyne.AppMetadata{ID: appID, Name: "Keypool", Version: app.Version().Version})
	if o.NewApp == nil {
		o.NewApp = fyneapp.NewWithID
	}
	fa := o.NewApp(appID)
	fa.SetIcon(Icon)
	// runCtx is the core's and its window's lifetime: until Fyne's loop
	// ends, or ctx.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	d := &desktopRun{o: o, fa: fa, hidden: o.Hidden}
	if err == nil {
		d.show(runCtx, core)
	} else {
		// Say it in a window too, with what can be done from there.
		o.Log.Error("keypool cannot start", "err", err)
		retry := func() error { return d.open(runCtx) }
		var fixes []Fix
		if o.Fixes != nil {
			fixes = o.Fixes(err, retry)
		}
		StartupError(fa, err, append(fixes, Fix{Label: "Try again", Do: retry})...).Show()
	}
	// ctx's end quits the app too: the watcher asks Fyne to quit, on
	// Fyne's goroutine and only if its loop runs; it ends when Run does.
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
	// once the window or the clipboard is wanted (loop.go).
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
	o      Options
	fa     fyne.App
	hidden bool

	core Runner
	ui   atomic.Pointer[UI] // set once shown; read by the quit watcher
	runs errgroup.Group     // the core's Run; Run waits for it
	// loopRuns is set once Fyne's loop runs (on the main goroutine, before
	// anything opens the core from the startup error window).
	loopRuns atomic.Bool
}

// show runs core until ctx is done and shows its window (unless hidden)
// and tray, which follow it until then.
func (d *desktopRun) show(ctx context.Context, core Runner) {
	d.core = core
	d.runs.Go(func() error { return core.Run(ctx) })
	u := New(d.fa, core)
	d.ui.Store(u)
	core.OnShow(u.Show)
	u.Run(ctx, d.hidden)
	if d.loopRuns.Load() {
		u.LoopStarting() // opened from the startup error window
		u.ParkWhenIdle(ctx)
	}
	d.o.Log.Info("keypool running", "url", core.URL())
}

// open tries to open the core app again and shows it, for ctx.
func (d *desktopRun) open(ctx context.Context) error {
	core, err := d.o.Open()
	if err != nil {
		return err
	}
	d.hidden = false // the person is looking at the error window
	d.show(ctx, core)
	return nil
}
