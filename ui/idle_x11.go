//go:build cgo && (linux || freebsd || netbsd || openbsd) && !wayland

package ui

/*
#cgo LDFLAGS: -lX11
#include <X11/Xlib.h>

static int kpConnection(void *d) { return ConnectionNumber((Display *)d); }
// kpPending flushes what is buffered for the server and reports how many
// events are waiting to be handled, reading any the socket has.
static int kpPending(void *d) { return XEventsQueued((Display *)d, QueuedAfterFlush); }
// kpSent is the number of the next request on the connection. GLX and
// Mesa send theirs through XCB on the same connection, which Xlib counts
// only when it sends one of its own: so it sends a no-op first, and the
// count includes that.
static unsigned long kpSent(void *d) {
	XNoOp((Display *)d);
	return XNextRequest((Display *)d);
}
*/
import "C"

import (
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/go-gl/glfw/v3.3/glfw"
	"golang.org/x/sys/unix"
)

// x11Waiter waits on the X connection Fyne's GLFW reads, and on a pipe that
// wake writes to. The display is GLFW's, asked for on the first call on
// Fyne's goroutine (where GLFW runs).
type x11Waiter struct {
	display func() unsafe.Pointer
	dpy     unsafe.Pointer
	seq     C.ulong // the display's next request number when last asked

	// mu keeps the pipe open while a wait or a wake uses it.
	mu           sync.RWMutex
	closed       bool
	wakeR, wakeW int
}

func newDisplayWaiter() displayWaiter {
	w, err := newX11Waiter(func() unsafe.Pointer { return unsafe.Pointer(glfw.GetX11Display()) })
	if err != nil {
		return nil
	}
	return w
}

func newX11Waiter(display func() unsafe.Pointer) (*x11Waiter, error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	return &x11Waiter{display: display, wakeR: p[0], wakeW: p[1]}, nil
}

// connection is the display, once known; nil when there is none.
func (x *x11Waiter) connection() unsafe.Pointer {
	if x.dpy == nil && x.display != nil {
		x.dpy, x.display = x.display(), nil
		if x.dpy != nil {
			x.seq = C.kpSent(x.dpy)
		}
	}
	return x.dpy
}

// quiet reports whether no request but its own went to the X server since
// the last call: every frame drawn, cursor changed or window moved sends
// some.
func (x *x11Waiter) quiet() bool {
	dpy := x.connection()
	if dpy == nil {
		return false
	}
	seq := C.kpSent(dpy)
	quiet := seq == x.seq+1
	x.seq = seq
	return quiet
}

func (x *x11Waiter) wait(limit time.Duration) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	dpy := x.connection()
	if x.closed || dpy == nil || C.kpPending(dpy) > 0 {
		return true
	}
	fds := []unix.PollFd{
		{Fd: int32(C.kpConnection(dpy)), Events: unix.POLLIN},
		{Fd: int32(x.wakeR), Events: unix.POLLIN},
	}
	n, err := unix.Poll(fds, int(limit/time.Millisecond))
	x.drain()
	return n != 0 || (err != nil && !errors.Is(err, unix.EINTR))
}

func (x *x11Waiter) forget() {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if !x.closed {
		x.drain()
	}
}

// drain empties the wake pipe; the caller holds mu and it is open.
func (x *x11Waiter) drain() {
	var buf [64]byte
	for {
		if _, err := unix.Read(x.wakeR, buf[:]); err != nil {
			return
		}
	}
}

func (x *x11Waiter) wake() {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if !x.closed {
		unix.Write(x.wakeW, []byte{1}) // a full pipe wakes the wait as well
	}
}

func (x *x11Waiter) close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.closed {
		x.closed = true
		unix.Close(x.wakeR)
		unix.Close(x.wakeW)
	}
}
