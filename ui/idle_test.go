package ui

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeWaiter stands in for the display: quiet says whether a frame was
// drawn, input makes the display readable.
type fakeWaiter struct {
	notQuiet atomic.Bool
	input    chan struct{}
	woken    chan struct{}
	waits    atomic.Int32 // waits begun
	waiting  atomic.Bool
	closed   atomic.Bool
}

func newFakeWaiter() *fakeWaiter {
	return &fakeWaiter{input: make(chan struct{}, 1), woken: make(chan struct{}, 1)}
}

func (f *fakeWaiter) quiet() bool { return !f.notQuiet.Load() }

func (f *fakeWaiter) wait(limit time.Duration) bool {
	f.waits.Add(1)
	f.waiting.Store(true)
	defer f.waiting.Store(false)
	select {
	case <-f.woken:
		return true
	case <-f.input:
		return true
	case <-time.After(limit):
		return false
	}
}

func (f *fakeWaiter) wake() {
	select {
	case f.woken <- struct{}{}:
	default:
	}
}

func (f *fakeWaiter) forget() {
	select {
	case <-f.woken:
	default:
	}
}

func (f *fakeWaiter) close() { f.closed.Store(true) }

// fakeLoop runs what is given to it one at a time, as Fyne's goroutine
// does: while a park runs, nothing else does.
type fakeLoop struct {
	funcs chan func()
	ran   atomic.Int32 // functions run
	wg    sync.WaitGroup
}

func startFakeLoop(t *testing.T) *fakeLoop {
	l := &fakeLoop{funcs: make(chan func(), 64)}
	done := make(chan struct{})
	l.wg.Go(func() {
		for {
			select {
			case f := <-l.funcs:
				f()
				l.ran.Add(1)
			case <-done:
				return
			}
		}
	})
	t.Cleanup(func() { close(done); l.wg.Wait() })
	return l
}

func (l *fakeLoop) do(f func()) { l.funcs <- f }

// startParker follows with p until the test ends, and returns its waiter.
func startParker(t *testing.T, l *fakeLoop, limit time.Duration) (*parker, *fakeWaiter) {
	t.Helper()
	w := newFakeWaiter()
	p := newParker(w)
	p.run = l.do
	p.quietFor, p.limit, p.gap = 10*time.Millisecond, limit, time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.follow(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if !w.closed.Load() {
			t.Error("the waiter is open after follow returned")
		}
	})
	return p, w
}

func TestParkerParksAQuietLoop(t *testing.T) {
	l := startFakeLoop(t)
	p, w := startParker(t, l, time.Hour)
	if !waitFor(5*time.Second, w.waiting.Load) {
		t.Fatal("a quiet loop was not parked")
	}
	// Keypool's work for the loop ends the park at once (the limit is an
	// hour), and runs.
	ran := make(chan struct{})
	l.do(func() { close(ran) })
	p.touch()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("work given to a parked loop did not run after touch")
	}
	// Quiet again, it is parked again; then input on the display ends it.
	before := w.waits.Load()
	if !waitFor(5*time.Second, func() bool { return w.waits.Load() > before && w.waiting.Load() }) {
		t.Fatal("the loop was not parked again once quiet")
	}
	ranBefore := l.ran.Load()
	w.input <- struct{}{}
	if !waitFor(5*time.Second, func() bool { return l.ran.Load() > ranBefore }) {
		t.Fatal("input on the display did not end the park")
	}
}

func TestParkerParksAgainAfterItsLimit(t *testing.T) {
	l := startFakeLoop(t)
	_, w := startParker(t, l, 5*time.Millisecond)
	// Each park ends at the limit; the loop gets a frame, then is parked
	// again without waiting to be quiet for long.
	if !waitFor(5*time.Second, func() bool { return w.waits.Load() >= 5 }) {
		t.Fatalf("%d parks, want 5 or more with a 5 ms limit", w.waits.Load())
	}
}

// A loop that drew a frame in its quiet time (something animates) is not
// parked; once it stops drawing, it is.
func TestParkerLeavesADrawingLoop(t *testing.T) {
	l := startFakeLoop(t)
	_, w := startParker(t, l, time.Hour)
	w.notQuiet.Store(true)
	// Several looks at the loop, none of which parks it.
	if !waitFor(5*time.Second, func() bool { return l.ran.Load() >= 3 }) {
		t.Fatal("the parker did not look at the loop")
	}
	if n := w.waits.Load(); n != 0 {
		t.Fatalf("%d parks of a loop that is drawing", n)
	}
	w.notQuiet.Store(false)
	if !waitFor(5*time.Second, w.waiting.Load) {
		t.Fatal("a loop quiet again was not parked")
	}
}

func TestParkerStops(t *testing.T) {
	l := startFakeLoop(t)
	p, w := startParker(t, l, time.Hour)
	if !waitFor(5*time.Second, w.waiting.Load) {
		t.Fatal("a quiet loop was not parked")
	}
	// Keypool quits: the park ends at once, and no other starts.
	p.stop()
	if !waitFor(5*time.Second, func() bool { return !w.waiting.Load() }) {
		t.Fatal("stop did not end the park")
	}
	n := w.waits.Load()
	time.Sleep(50 * time.Millisecond) // five quiet periods
	if w.waits.Load() != n {
		t.Error("the loop was parked after stop")
	}
}

// A loop that ended (Fyne quit) runs no more parks: follow still returns
// when its context ends.
func TestParkerEndsWithoutTheLoop(t *testing.T) {
	w := newFakeWaiter()
	p := newParker(w)
	p.run = func(func()) {} // dropped, as Fyne drops work after its loop ended
	p.quietFor, p.gap = time.Millisecond, time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.follow(ctx); close(done) }()
	time.Sleep(10 * time.Millisecond) // a park is handed to the loop
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("follow did not return after its context ended")
	}
	if !w.closed.Load() {
		t.Error("the waiter is open after follow returned")
	}
}

// A wake from work that ran before the park does not end it; work given
// after the park was scheduled keeps the loop from parking.
func TestParkerForgetsStaleWakes(t *testing.T) {
	w := newFakeWaiter()
	p := newParker(w)
	p.limit = 20 * time.Millisecond

	p.touch() // its work ran; then the park is scheduled
	if p.park(p.touches.Load()) {
		t.Error("park ended by a wake from before it; want it to last its limit")
	}
	seen := p.touches.Load()
	p.touch() // work queued behind the park
	if !p.park(seen) {
		t.Error("park = false with work given after it was scheduled")
	}
	if n := w.waits.Load(); n != 1 {
		t.Errorf("%d waits, want 1 (none with work waiting)", n)
	}
}
