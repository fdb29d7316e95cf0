//go:build linux || freebsd || openbsd || netbsd || dragonfly

package secrets

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/godbus/dbus/v5"
)

const (
	secretsName     = "org.freedesktop.secrets"
	secretsPath     = "/org/freedesktop/secrets"
	loginCollection = dbus.ObjectPath("/org/freedesktop/secrets/collection/login")
	defaultAlias    = dbus.ObjectPath("/org/freedesktop/secrets/aliases/default")
)

// Locked reports whether the collection go-keyring keeps Keypool's entries
// in is locked: "login" where it exists, else the default one, as go-keyring
// chooses. Unlike every other call it never asks the user to unlock
// anything, so a caller waiting for the keychain may ask as often as it
// likes.
func (k OS) Locked() (bool, error) {
	conn, err := dbus.SessionBus() // shared with go-keyring; never closed
	if err != nil {
		return false, fmt.Errorf("keychain state: %w", classify(runtime.GOOS, err))
	}
	coll := defaultAlias
	v, err := conn.Object(secretsName, secretsPath).GetProperty("org.freedesktop.Secret.Service.Collections")
	if err != nil {
		return false, fmt.Errorf("keychain state: %w", classify(runtime.GOOS, err))
	}
	if paths, ok := v.Value().([]dbus.ObjectPath); ok && slices.Contains(paths, loginCollection) {
		coll = loginCollection
	}
	v, err = conn.Object(secretsName, coll).GetProperty("org.freedesktop.Secret.Collection.Locked")
	if err != nil {
		return false, fmt.Errorf("keychain state: %w", classify(runtime.GOOS, err))
	}
	locked, ok := v.Value().(bool)
	if !ok {
		return false, fmt.Errorf("keychain state: %w: Locked is %s, not a boolean", ErrUnavailable, v.Signature())
	}
	return locked, nil
}
