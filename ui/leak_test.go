package ui

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the window and tray start (following the app, refreshes,
// logins) has ended when the tests have. Not a leak: the keychain's D-Bus
// session connection, shared for the process (go-keyring through godbus).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).inWorker"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newConn.func1"))
}
