//go:build cgo

package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"go.uber.org/goleak"

	"keypool/app"
	"keypool/internal/dirtest"
)

// scriptedApp is Fyne's test app whose loop is a script: Run does what
// the person at the window would, then returns as a Quit would.
type scriptedApp struct {
	fyne.App
	person func(fyne.App)
}

func (a scriptedApp) Run() { a.person(a.App) }

// openCore opens a core app on dir's data, on a port the kernel picks, as
// Run's Open would.
func openCore(t *testing.T, dir string) (*app.App, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return app.Open(app.Params{DataDir: dir, Listener: l, Keychain: testKeychain(t),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// checkClosed fails t unless the core that ran on dir is closed: its
// relay no longer answers, and its data can be opened again (a core
// still open holds it locked).
func checkClosed(t *testing.T, core *app.App, dir string) {
	t.Helper()
	if c, err := net.Dial("tcp", core.Addr()); err == nil {
		c.Close()
		t.Errorf("the relay at %s still answers after Run returned", core.Addr())
	}
	again, err := openCore(t, dir)
	if err != nil {
		t.Errorf("open the data again after Run returned: %v, want it given back", err)
		return
	}
	again.Close()
}

// windowTitled is fa's window of that title, or nil.
func windowTitled(fa fyne.App, title string) fyne.Window {
	for _, w := range fa.Driver().AllWindows() {
		if w.Title() == title {
			return w
		}
	}
	return nil
}

// Run owns the desktop app's lifetime: it opens the core, runs it and
// shows its window while Fyne's loop runs, and when the loop ends stops
// the core, waits for every goroutine of the window and its dialogs, and
// closes the core. A core that cannot open is said in a window whose
// fixes open it again.
func TestRunOwnsTheLifecycle(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("opens_shows_and_closes", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		var core *app.App
		dir := dirtest.New(t)
		shown := false
		err := Run(context.Background(), Options{
			Log: quiet,
			Open: func() (Runner, error) {
				c, err := openCore(t, dir)
				if err != nil {
					return nil, err
				}
				core = c
				return c, nil
			},
			NewApp: func(string) fyne.App {
				return scriptedApp{App: test.NewTempApp(t), person: func(fa fyne.App) {
					shown = windowTitled(fa, "Keypool") != nil
				}}
			},
		})
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
		if !shown {
			t.Error("no Keypool window while the loop ran")
		}
		checkClosed(t, core, dir)
		if err := goleak.Find(append(sharedGoroutines, before)...); err != nil {
			t.Errorf("goroutines left after Run: %v", err)
		}
	})
	t.Run("startup_error_then_try_again", func(t *testing.T) {
		before := goleak.IgnoreCurrent()
		opens := 0
		var fixedErr error
		var core *app.App
		dir := dirtest.New(t)
		err := Run(context.Background(), Options{
			Log: quiet,
			Open: func() (Runner, error) {
				opens++
				if opens == 1 {
					return nil, fmt.Errorf("open the database: %w", app.ErrCorrupt)
				}
				c, err := openCore(t, dir)
				if err != nil {
					return nil, err
				}
				core = c
				return c, nil
			},
			Fixes: func(err error, retry func() error) []Fix {
				fixedErr = err
				return []Fix{{Label: "Keep it aside", Do: retry}}
			},
			NewApp: func(string) fyne.App {
				return scriptedApp{App: test.NewTempApp(t), person: func(fa fyne.App) {
					w := windowTitled(fa, "Keypool cannot start")
					if w == nil {
						t.Error("no startup error window")
						return
					}
					if findButton(w.Content(), "Keep it aside") == nil {
						t.Error("the startup error window does not offer the fix")
					}
					test.Tap(findButton(w.Content(), "Try again"))
					if windowTitled(fa, "Keypool") == nil {
						t.Error("no Keypool window after Try again")
					}
				}}
			},
		})
		if err != nil {
			t.Fatalf("Run = %v, want nil: the second open worked", err)
		}
		if opens != 2 || core == nil {
			t.Fatalf("opened %d times, want 2 (at start, then Try again)", opens)
		}
		if !errors.Is(fixedErr, app.ErrCorrupt) {
			t.Errorf("Fixes got %v, want the open error", fixedErr)
		}
		checkClosed(t, core, dir)
		if err := goleak.Find(append(sharedGoroutines, before)...); err != nil {
			t.Errorf("goroutines left after Run: %v", err)
		}
	})
	t.Run("cannot_open", func(t *testing.T) {
		want := fmt.Errorf("open the database: %w", app.ErrCorrupt)
		err := Run(context.Background(), Options{
			Log:  quiet,
			Open: func() (Runner, error) { return nil, want },
			NewApp: func(string) fyne.App {
				return scriptedApp{App: test.NewTempApp(t), person: func(fa fyne.App) {
					if windowTitled(fa, "Keypool cannot start") == nil || windowTitled(fa, "Keypool") != nil {
						t.Error("want the startup error window alone while the loop runs")
					}
				}}
			},
		})
		if err != want {
			t.Errorf("Run = %v, want the open error as it is", err)
		}
	})
}
