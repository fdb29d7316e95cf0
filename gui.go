package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"keypool/app"
	"keypool/app/store"
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

// gui runs Keypool as a person uses it: the relay in-process with the app's
// own accounts, a window, and the tray. Without a display it runs headless.
func gui(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("", &p, stderr)
	hidden := fs.Bool("hidden", false, "start in the tray only (as at login)")
	fs.IntVar(&p.Port, "port", 0, "listen port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected %q", errUsage, fs.Args())
	}
	if !hasDisplay() {
		fmt.Fprintln(stderr, "No display: running the relay headless (keypool serve).")
		return serve(ctx, args, stdout, stderr)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	p.Logger = log
	p.Keychain = osKeychain()
	core, err := app.Open(p)
	if errors.Is(err, store.ErrLocked) {
		// One Keypool per data dir: bring the running one forward.
		cfg, _ := app.LoadConfig(p)
		if path, perr := app.DatabasePath(p, cfg); perr == nil {
			if serr := app.ShowRunning(path); serr == nil {
				fmt.Fprintln(stdout, "Keypool is already running; its window is brought forward.")
				return nil
			}
		}
	}
	if err != nil {
		return err
	}
	defer core.Close()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- core.Run(runCtx) }()

	fa := fyneapp.NewWithID("app.keypool.keypool")
	fa.SetIcon(ui.Icon)
	u := ui.New(fa, core)
	core.OnShow(func() { fyne.Do(func() { u.Window().Show(); u.Window().RequestFocus() }) })
	u.Run(runCtx, *hidden)
	go func() {
		<-ctx.Done() // Ctrl-C quits the app too
		fa.Quit()
	}()
	log.Info("keypool running", "url", core.URL())
	fa.Run() // until Quit
	stop()
	return <-done
}
