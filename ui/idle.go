package ui

import (
	"context"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
)

// Once Fyne's loop runs it wakes 60 times a second to poll the display,
// drawn or not: about 2% of a core here, for a window nobody touches or one
// closed to the tray, and Fyne has no way to stop it. So while nothing
// happens Keypool parks the loop: it runs, on Fyne's goroutine, a function
// that waits for the display connection to have something to read (input,
// a window exposed, a paste asking for our clipboard), for Keypool to have
// something for the loop, or for parkLimit; then Fyne's loop goes on as
// usual until it has been quiet for quietFor again. Quiet means nothing was
// sent to the display in that time: no frame drawn, so nothing animates (a
// text field's blinking cursor draws twice a second; it stops blinking when
// the window loses the focus).

// How long the loop must have been quiet before it is parked, and how long
// one park lasts at most: whatever Fyne queued for its own goroutine runs
// by then, and one frame's poll.
const (
	quietFor  = 2 * time.Second
	parkLimit = 5 * time.Second
	// parkGap lets a frame or two run between parks that ended on time.
	parkGap = 20 * time.Millisecond
)

// displayWaiter waits, on Fyne's goroutine, for the display or Keypool.
type displayWaiter interface {
	// quiet reports whether nothing was sent to the display since it was
	// last asked: no frame drawn.
	quiet() bool
	// wait blocks until the display has something to read, wake is
	// called, or limit passes; it reports true unless limit passed.
	wait(limit time.Duration) bool
	// wake ends a wait, or the next one if none is in progress. Safe from
	// any goroutine.
	wake()
	// forget drops wakes that came before it: the next wait ends only on a
	// later one.
	forget()
	// close gives back what the waiter holds; a wait after it returns at
	// once, and a wake does nothing.
	close()
}

// parker parks Fyne's loop while nothing happens (see above).
type parker struct {
	waiter displayWaiter
	// run runs a function on Fyne's goroutine.
	run func(func())
	// active is when something last happened (Unix nanoseconds): the loop
	// woke from a park, or Keypool gave it something to do; touches counts
	// the latter.
	active  atomic.Int64
	touches atomic.Uint64
	stopped atomic.Bool
	now     func() time.Time
	// quietFor, limit and gap are the constants above; tests shorten them.
	quietFor, limit, gap time.Duration
}

func newParker(w displayWaiter) *parker {
	p := &parker{waiter: w, run: fyne.Do, now: time.Now,
		quietFor: quietFor, limit: parkLimit, gap: parkGap}
	p.active.Store(p.now().UnixNano())
	return p
}

// touch says something happened: a park in progress ends, and the loop
// runs as Fyne runs it for quietFor at least.
func (p *parker) touch() {
	p.touches.Add(1)
	p.active.Store(p.now().UnixNano())
	p.waiter.wake()
}

// stop ends any park, and parks no more.
func (p *parker) stop() {
	p.stopped.Store(true)
	p.waiter.wake()
}

// follow parks the loop each time it has been quiet for quietFor, until ctx
// is done.
func (p *parker) follow(ctx context.Context) {
	defer p.waiter.close()
	t := time.NewTimer(p.quietFor)
	defer t.Stop()
	done := make(chan bool, 1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p.stopped.Load() {
			return
		}
		if idle := p.now().Sub(time.Unix(0, p.active.Load())); idle < p.quietFor {
			t.Reset(p.quietFor - idle)
			continue
		}
		seen := p.touches.Load()
		p.run(func() { done <- p.park(seen) })
		var woke bool
		select {
		case <-ctx.Done():
			// Fyne may have stopped without running the park; once it
			// has, the waiter is Keypool's to close.
			p.stop()
			return
		case woke = <-done:
		}
		if woke {
			p.active.Store(p.now().UnixNano())
			t.Reset(p.quietFor)
		} else {
			t.Reset(p.gap)
		}
	}
}

// park waits on Fyne's goroutine while the display and Keypool have nothing
// for the loop, up to limit. It reports whether something (not the limit)
// ended it; a loop that is not quiet counts as something, and so does a
// touch since seen was counted.
func (p *parker) park(seen uint64) bool {
	if p.stopped.Load() {
		return true
	}
	// Asked every time, so the next park compares with now.
	if !p.waiter.quiet() {
		return true
	}
	// A wake left from work that ran before this park would end it at
	// once. Dropped first, then the count is read: a touch after seen
	// shows in the count, or its wake comes after the drop.
	p.waiter.forget()
	if p.touches.Load() != seen {
		return true
	}
	return p.waiter.wait(p.limit)
}

// loopParker is the parker of Fyne's loop in this process (there is one
// loop), once ParkWhenIdle started it.
var loopParker atomic.Pointer[parker]

// runOnLoop runs f on Fyne's goroutine, waking the loop if it is parked.
func runOnLoop(f func()) {
	fyne.Do(f)
	if p := loopParker.Load(); p != nil {
		p.touch()
	}
}

// ParkWhenIdle parks Fyne's loop while nothing happens, until ctx is done;
// call it, with the desktop driver, when the loop starts or runs (a park
// waits in Fyne's queue until then). Where Keypool cannot wait on the
// display (not X11) it does nothing.
func (u *UI) ParkWhenIdle(ctx context.Context) {
	w := newDisplayWaiter()
	if w == nil {
		return
	}
	p := newParker(w)
	if !loopParker.CompareAndSwap(nil, p) {
		w.close()
		return
	}
	if !u.work.Go(func() {
		defer loopParker.CompareAndSwap(p, nil)
		p.follow(ctx)
	}) {
		loopParker.CompareAndSwap(p, nil)
		w.close()
	}
}
