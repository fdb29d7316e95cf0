//go:build !(linux || freebsd || openbsd || netbsd || dragonfly)

package secrets

import "errors"

// sessionBus is nil: the keychain here needs no session bus.
func sessionBus() error { return nil }

// Locked is not known without asking the user on this system: callers
// waiting for the keychain fall back to Check, less often.
func (k OS) Locked() (bool, error) { return false, errors.ErrUnsupported }
