package secrets

import (
	"errors"
	"fmt"
	"strings"

	"github.com/zalando/go-keyring"
)

// Sentinel errors. Keychain methods wrap them with the operation, the account
// and the field; callers branch with errors.Is.
var (
	// ErrNotFound means the keychain has no such entry. It wraps
	// keyring.ErrNotFound.
	ErrNotFound error = &sentinel{"secret not found in keychain", keyring.ErrNotFound}
	// ErrTooLarge means the value is over MaxSize (checked before the
	// keychain is touched) or the keychain refused it as too big. It wraps
	// keyring.ErrSetDataTooBig.
	ErrTooLarge error = &sentinel{"secret too large for the keychain", keyring.ErrSetDataTooBig}
	// ErrUnavailable means the keychain could not be reached or refused
	// the request. The error that wraps it says what to do about it, and
	// wraps go-keyring's own error too.
	ErrUnavailable = errors.New("keychain unavailable")
)

// sentinel is an error with its own message that also matches the go-keyring
// error it stands for.
type sentinel struct {
	msg   string
	cause error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.cause }

// classify maps an error from go-keyring on goos to ErrNotFound, ErrTooLarge,
// or an error wrapping both ErrUnavailable and err that carries the advice.
// go-keyring's errors hold no secret value, so err's text is kept.
func classify(goos string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, keyring.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, keyring.ErrSetDataTooBig):
		return ErrTooLarge
	}
	return fmt.Errorf("%w: %s (%w)", ErrUnavailable, advice(goos, err), err)
}

// Advice, by cause. Each says what is wrong and what to do.
const (
	adviceLinuxLocked = "the keyring is locked or has no default keyring: " +
		"unlock your login keyring (or create one) in Passwords and Keys (Seahorse) or KWallet, then try again; " +
		"without a desktop, unlock it from a terminal of the same session: " +
		`read -rs PW; printf %s "$PW" | gnome-keyring-daemon --replace --unlock --components=secrets`
	adviceLinuxNoBus = "no desktop session here (no D-Bus session bus), so no keyring to keep secrets in. " +
		"Without a desktop, either keep the accounts and their keys in a config file only you can read " +
		"(chmod 600 config.toml; see config.example.toml) and run: keypool serve --config config.toml; " +
		"or open a keyring session in this terminal: run dbus-run-session -- bash, then in it " +
		`read -rs PW; printf %s "$PW" | gnome-keyring-daemon --unlock --components=secrets ` +
		"(the keyring is kept in ~/.local/share/keyrings), and run keypool there"
	adviceLinuxNoService = "no Secret Service on the session bus: " +
		"install and start GNOME Keyring (gnome-keyring) or KWallet, and unlock your login keyring"
	adviceMacLocked = "the login keychain is locked: unlock it in Keychain Access (or log out and in again), then try again"
	adviceMacDenied = "access to the keychain was denied: allow Keypool when macOS asks, " +
		"or in Keychain Access under the item's Access Control"
	adviceMac     = "the macOS keychain refused the request: open Keychain Access and check that the login keychain exists and is unlocked"
	adviceWindows = "Windows Credential Manager refused the request: run Keypool as a signed-in user " +
		"with a loaded profile (not as a service) and check that the Credential Manager service is running"
)

// advice says what to do about a keychain failure on goos.
func advice(goos string, err error) string {
	if errors.Is(err, keyring.ErrUnsupportedPlatform) {
		return "this build of Keypool has no keychain support on " + goos
	}
	msg := strings.ToLower(err.Error())
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(msg, s) {
				return true
			}
		}
		return false
	}
	switch goos {
	case "darwin":
		// /usr/bin/security exits with the low byte of the OSStatus:
		// 36 errSecInteractionNotAllowed (locked, no UI), 51 errSecAuthFailed,
		// 128 errSecUserCanceled.
		switch {
		case has("exit status 36", "interaction is not allowed", "locked"):
			return adviceMacLocked
		case has("exit status 51", "exit status 128", "denied", "canceled", "cancelled"):
			return adviceMacDenied
		}
		return adviceMac
	case "windows":
		return adviceWindows
	}
	// Linux and the BSDs: the Secret Service over D-Bus.
	switch {
	case has("lock"): // "failed to unlock correct collection", "IsLocked", "is locked"
		return adviceLinuxLocked
	case has("dbus-launch", "couldn't determine address of session bus", "dial unix", "connection refused", "no such file or directory"):
		return adviceLinuxNoBus
	}
	return adviceLinuxNoService // "org.freedesktop.secrets was not provided by any .service files", …
}
