package cli

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the commands and the desktop app's start begin has ended
// when the tests have. Not leaks: the keychain's D-Bus session connection,
// shared for the process (go-keyring through godbus), and the queue Fyne's
// driver starts when it is loaded.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).inWorker"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newConn.func1"),
		goleak.IgnoreTopFunction("fyne.io/fyne/v2/internal/async.(*UnboundedChan[...]).processing"))
}
