//go:build cgo && (linux || freebsd || netbsd || openbsd) && !wayland

package ui

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"keypool/ui/internal/xconn"
)

// startXvfb starts an X server of the test's own and returns its name.
func startXvfb(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("Xvfb"); err != nil {
		t.Fatal("Xvfb is needed (Debian: xvfb; make deps installs it)")
	}
	for n := 150; n < 250; n++ {
		name := fmt.Sprintf(":%d", n)
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		// -noreset: the server would otherwise reset, refusing connections
		// for a moment, when the probe below disconnects.
		cmd := exec.Command("Xvfb", name, "-screen", "0", "640x480x24", "-nolisten", "tcp", "-noreset")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			// Terminated, not killed, so it removes its lock file.
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		})
		var c *xconn.Conn
		if waitFor(10*time.Second, func() bool {
			select {
			case <-exited:
				return true // taken meanwhile: the next number
			default:
			}
			c, _ = xconn.Open(name)
			return c != nil
		}) && c != nil {
			c.Close()
			return name
		}
	}
	t.Fatal("no X server started")
	return ""
}

// TestX11WaiterWaitsForTheDisplay waits on a real X connection: a wait
// ends when the server sends something, when Keypool wakes it, or at its
// limit; a connection that sent a request is not quiet.
func TestX11WaiterWaitsForTheDisplay(t *testing.T) {
	name := startXvfb(t)
	app, err := xconn.Open(name) // the connection the waiter watches, as GLFW's
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	app.WatchRoot()
	other, err := xconn.Open(name) // another client on the same screen
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	w, err := newX11Waiter(func() unsafe.Pointer { return app.Display() })
	if err != nil {
		t.Fatal(err)
	}
	const never = 10 * time.Second // a wait that lasts this long has failed

	if !w.quiet() {
		t.Error("quiet = false for a connection that sent nothing")
	}
	if w.wait(20 * time.Millisecond) {
		t.Error("wait = true with nothing from the display and no wake")
	}

	w.wake() // before the wait: it ends at once
	if !w.wait(never) {
		t.Error("wait after wake = false")
	}
	w.wake()
	w.forget()
	if w.wait(20 * time.Millisecond) {
		t.Error("wait = true after its wake was forgotten")
	}
	go func() { time.Sleep(20 * time.Millisecond); w.wake() }()
	if !w.wait(never) {
		t.Error("wait = false, woken during it")
	}

	// An event for the app's connection: the wait ends, and while the event
	// is not handled every wait ends at once.
	other.TouchRoot()
	if !w.wait(never) {
		t.Error("wait = false with an event on the connection")
	}
	if !w.wait(never) {
		t.Error("wait = false with an event read but not handled")
	}
	if n := app.Drain(); n == 0 {
		t.Error("the app's connection had no event to handle")
	}
	if w.wait(20 * time.Millisecond) {
		t.Error("wait = true once every event was handled")
	}

	// A request sent (as a frame drawn sends some): not quiet, once.
	app.TouchRoot()
	if w.quiet() {
		t.Error("quiet = true after the connection sent a request")
	}
	if !w.quiet() {
		t.Error("quiet = false with nothing sent since the last look")
	}
	app.Drain() // its own property change

	w.close()
	w.wake() // after close: nothing to write to, no harm
	if !w.wait(never) {
		t.Error("wait after close = false; it must not wait on closed pipes")
	}
}
