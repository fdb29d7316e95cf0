//go:build cgo && (linux || freebsd || netbsd || openbsd) && !wayland

package xconn

/*
#cgo LDFLAGS: -lX11
#include <stdlib.h>
#include <X11/Xlib.h>
#include <X11/Xatom.h>

static void *xcOpen(const char *name) { return XOpenDisplay(name); }
static void xcClose(void *d) { XCloseDisplay((Display *)d); }
static void xcWatchRoot(void *d) {
	Display *dpy = d;
	XSelectInput(dpy, DefaultRootWindow(dpy), PropertyChangeMask);
	XSync(dpy, False);
}
static void xcTouchRoot(void *d) {
	Display *dpy = d;
	Atom name = XInternAtom(dpy, "KEYPOOL_XCONN_TEST", False);
	unsigned char v = 1;
	XChangeProperty(dpy, DefaultRootWindow(dpy), name, XA_CARDINAL, 8, PropModeReplace, &v, 1);
	XFlush(dpy);
}
static int xcDrain(void *d) {
	Display *dpy = d;
	XEvent ev;
	int n = 0;
	while (XPending(dpy) > 0) {
		XNextEvent(dpy, &ev);
		n++;
	}
	return n;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Conn is one connection to an X server.
type Conn struct{ dpy unsafe.Pointer }

// Open connects to the X server name (":99").
func Open(name string) (*Conn, error) {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	dpy := C.xcOpen(cs)
	if dpy == nil {
		return nil, fmt.Errorf("cannot open X display %s", name)
	}
	return &Conn{dpy}, nil
}

// Display is the connection's Xlib Display.
func (c *Conn) Display() unsafe.Pointer { return c.dpy }

// Close ends the connection.
func (c *Conn) Close() { C.xcClose(c.dpy) }

// WatchRoot asks for an event each time a property of the root window
// changes.
func (c *Conn) WatchRoot() { C.xcWatchRoot(c.dpy) }

// TouchRoot changes a property of the root window, which every connection
// that watches the root hears of.
func (c *Conn) TouchRoot() { C.xcTouchRoot(c.dpy) }

// Drain handles every event the connection has, as a toolkit's loop would,
// and reports how many there were.
func (c *Conn) Drain() int { return int(C.xcDrain(c.dpy)) }
