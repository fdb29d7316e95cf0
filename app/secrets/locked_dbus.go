//go:build linux || freebsd || openbsd || netbsd || dragonfly

package secrets

import (
	"fmt"
	"runtime"

	"github.com/godbus/dbus/v5"
)

// Locked reports whether the Secret Service's default collection, where
// go-keyring keeps Keypool's entries, is locked. Unlike every other call it
// never asks the user to unlock anything, so a caller waiting for the
// keychain may ask as often as it likes.
func (k OS) Locked() (bool, error) {
	conn, err := dbus.SessionBus() // shared with go-keyring; never closed
	if err != nil {
		return false, fmt.Errorf("keychain state: %w", classify(runtime.GOOS, err))
	}
	v, err := conn.Object("org.freedesktop.secrets", "/org/freedesktop/secrets/aliases/default").
		GetProperty("org.freedesktop.Secret.Collection.Locked")
	if err != nil {
		return false, fmt.Errorf("keychain state: %w", classify(runtime.GOOS, err))
	}
	locked, ok := v.Value().(bool)
	if !ok {
		return false, fmt.Errorf("keychain state: %w: Locked is %s, not a boolean", ErrUnavailable, v.Signature())
	}
	return locked, nil
}
