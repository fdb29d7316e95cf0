package ui

import (
	"context"
	"sync"
	"sync/atomic"
)

// Fyne's event loop polls the display 60 times a second from the moment it
// runs, whether a window is shown or not: about 2% of a core on an idle
// machine. Started hidden with a tray of its own (the D-Bus tray, which
// needs no loop), Keypool does not run it until something needs it — the
// window, or the clipboard — so an app that stays in the tray costs next to
// nothing. Until then, what would run on Fyne's goroutine runs directly,
// one at a time. Once the loop runs, idle.go parks it while nothing
// happens.

// loopState is whether Fyne's loop runs, and what waits for it.
type loopState struct {
	started atomic.Bool
	// stopping is set before Keypool asks Fyne to quit: from then on
	// nothing more runs for the window, which Fyne is taking down (a
	// refresh then would touch a terminated GLFW and crash).
	stopping atomic.Bool
	// run is held while code runs directly, before the loop (onMain); the
	// loop does not start in the middle of it.
	run sync.Mutex
	// mu guards after: what runs on Fyne's goroutine once the loop starts,
	// because it asked for the loop (show the window, use the clipboard).
	mu      sync.Mutex
	after   []func()
	need    chan struct{}
	quit    chan struct{}
	quitted sync.Once
}

func newLoopState() *loopState {
	return &loopState{need: make(chan struct{}, 1), quit: make(chan struct{})}
}

// onMain runs f on Fyne's goroutine once the loop runs; before that,
// directly, one call at a time; once Keypool is quitting, not at all.
func (u *UI) onMain(f func()) {
	l := u.loop
	if l.stopping.Load() {
		return
	}
	if !l.started.Load() {
		l.run.Lock()
		if !l.started.Load() {
			defer l.run.Unlock()
			f()
			return
		}
		l.run.Unlock()
	}
	runOnLoop(l.unlessStopping(f))
}

// unlessStopping is f, skipped when it runs after Keypool began to quit.
func (l *loopState) unlessStopping(f func()) func() {
	return func() {
		if !l.stopping.Load() {
			f()
		}
	}
}

// Stopping is called before Fyne is asked to quit (see loopState.stopping).
// A parked loop wakes, to take the quit.
func (u *UI) Stopping() {
	u.loop.stopping.Store(true)
	if p := loopParker.Load(); p != nil {
		p.stop()
	}
}

// withLoop runs f on Fyne's goroutine, starting the loop for it if need be
// (f uses the window or the clipboard). It may be called from within
// onMain.
func (u *UI) withLoop(f func()) {
	l := u.loop
	if l.stopping.Load() {
		return
	}
	l.mu.Lock()
	if l.started.Load() {
		l.mu.Unlock()
		runOnLoop(l.unlessStopping(f))
		return
	}
	l.after = append(l.after, f)
	l.mu.Unlock()
	select {
	case l.need <- struct{}{}:
	default:
	}
}

// CanDeferLoop reports whether this UI can live in the tray without Fyne's
// loop: its tray is its own.
func (u *UI) CanDeferLoop() bool {
	return u.tray != nil && !u.tray.needsLoop()
}

// WaitForLoop blocks until something needs Fyne's loop (true), or Keypool
// is to quit first (false: ctx done, or Quit from the tray).
func (u *UI) WaitForLoop(ctx context.Context) bool {
	select {
	case <-u.loop.need:
		return true
	case <-u.loop.quit:
		return false
	case <-ctx.Done():
		return false
	}
}

// LoopStarting is called just before Fyne's loop runs: from then on
// everything for Fyne's goroutine goes through it, starting with what
// asked for it.
func (u *UI) LoopStarting() {
	l := u.loop
	l.run.Lock() // no direct run in progress, and none after this
	l.mu.Lock()
	l.started.Store(true)
	after := l.after
	l.after = nil
	l.mu.Unlock()
	l.run.Unlock()
	for _, f := range after {
		runOnLoop(l.unlessStopping(f))
	}
}

// quit ends Keypool: through Fyne once its loop runs, else by waking
// WaitForLoop.
func (u *UI) quit() {
	l := u.loop
	if l.started.Load() {
		u.Stopping()
		u.fapp.Quit()
		return
	}
	l.quitted.Do(func() { close(l.quit) })
}
