//go:build linux || freebsd || openbsd || netbsd || dragonfly

package secrets

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// sessionBus returns nil when a D-Bus session bus is there to be reached:
// its address is set, or the standard socket $XDG_RUNTIME_DIR/bus exists.
// Otherwise go-keyring (through godbus) would run dbus-launch, which starts a
// bus and a keyring daemon that outlive the command and hold nothing the
// user can unlock; Keypool refuses instead and says what works without a
// desktop.
func sessionBus() error {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return nil
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		if fi, err := os.Stat(filepath.Join(dir, "bus")); err == nil && fi.Mode().Type() == fs.ModeSocket {
			return nil
		}
	}
	return fmt.Errorf("%w: %s", ErrUnavailable, adviceLinuxNoBus)
}

// Locked reports whether the collection go-keyring keeps Keypool's entries
// in is locked: "login" where it exists, else the default one, as go-keyring
// chooses. Unlike every other call it never asks the user to unlock
// anything, so a caller waiting for the keychain may ask as often as it
// likes.
func (k OS) Locked() (bool, error) {
	if err := sessionBus(); err != nil {
		return false, fmt.Errorf("keychain state: %w", err)
	}
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
