package ui

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the window and tray start (following the app, refreshes,
// logins) has ended when the tests have. Not a leak: the keychain's D-Bus
// session connection, shared for the process (go-keyring through godbus).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, sharedGoroutines...)
}

// sharedGoroutines are the process's own goroutines, not the UI's: the
// keychain's D-Bus session connection, opened on first use, and the queue
// Fyne's desktop driver starts as its package is loaded (run.go imports
// it).
var sharedGoroutines = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).inWorker"),
	goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newConn.func1"),
	goleak.IgnoreTopFunction("fyne.io/fyne/v2/internal/async.(*UnboundedChan[...]).processing"),
}
