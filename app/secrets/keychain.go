package secrets

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/zalando/go-keyring"
)

// Field names one secret of an owner: with the owner it makes the keychain
// entry's user name (see Owner).
type Field string

// The fields an owner can hold.
const (
	APIKey        Field = "api_key"
	AccessToken   Field = "access_token"
	RefreshToken  Field = "refresh_token"
	IDToken       Field = "id_token"
	ProxyPassword Field = "proxy_password"
)

// AllFields lists every Field; DeleteAll deletes each of them.
var AllFields = []Field{APIKey, AccessToken, RefreshToken, IDToken, ProxyPassword}

// valid reports whether f is one of AllFields.
func (f Field) valid() bool {
	for _, g := range AllFields {
		if f == g {
			return true
		}
	}
	return false
}

// Limits checked before anything reaches the keychain, the same on every OS
// so that a secret stored on one system also fits on the others.
const (
	// MaxSize is the largest secret value, in bytes: Windows' Credential
	// Manager holds at most 2,560 bytes per secret, the smallest limit of the
	// three backends (macOS allows about 3,000 with the entry's names).
	MaxSize = 2560
	// maxIDLen bounds an owner's id, in bytes, so that service, user name
	// and a MaxSize secret stay within macOS's 4,096-byte command line even
	// with every character escaped.
	maxIDLen = 100
)

// Keychain stores secrets by owner and field. Implementations are safe for
// concurrent use. Errors wrap ErrNotFound, ErrTooLarge or ErrUnavailable and
// name the owner and field, never the value.
type Keychain interface {
	// Get returns the secret, or an error wrapping ErrNotFound.
	Get(o Owner, f Field) (Secret, error)
	// Set stores s, replacing any previous value. A value over MaxSize
	// bytes is refused with ErrTooLarge before the keychain is touched.
	Set(o Owner, f Field, s Secret) error
	// Delete removes the secret; deleting a missing one is not an error.
	Delete(o Owner, f Field) error
	// DeleteAll removes every field of the owner.
	DeleteAll(o Owner) error
}

// Compile-time checks.
var (
	_ Keychain = OS{}
	_ Keychain = (*Memory)(nil)
)

// DefaultService is the keychain service name Keypool's entries live under.
const DefaultService = "keypool"

// probeUser is the entry Check looks up. It has no "/", so it is never an
// owner's entry.
const probeUser = "keypool-probe"

// OS is the real OS keychain, via go-keyring: service Service, user name
// "<kind>:<id>/<field>" (see Owner). The zero OS uses DefaultService; tests set Service
// to a name of their own.
//
// On Linux every call is a D-Bus call to the Secret Service of the session
// bus (GNOME Keyring, KWallet); a locked keyring makes the first call ask the
// user to unlock it, and go-keyring waits for the answer.
type OS struct {
	Service string // empty: DefaultService
}

func (k OS) service() string {
	if k.Service == "" {
		return DefaultService
	}
	return k.Service
}

// Check is a cheap probe: it looks up an entry that need not exist. It
// returns nil when the keychain answers, else an error wrapping
// ErrUnavailable that says what to do.
func (k OS) Check() error {
	if err := sessionBus(); err != nil {
		return fmt.Errorf("keychain check: %w", err)
	}
	_, err := keyring.Get(k.service(), probeUser)
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("keychain check: %w", classify(runtime.GOOS, err))
}

// Get implements Keychain.
func (k OS) Get(o Owner, f Field) (Secret, error) {
	if err := sessionBus(); err != nil {
		return Secret{}, fmt.Errorf("keychain get %s: %w", o.entry(f), err)
	}
	if err := checkKey(o, f); err != nil {
		return Secret{}, fmt.Errorf("keychain get %s: %w", o.entry(f), err)
	}
	v, err := keyring.Get(k.service(), o.entry(f))
	if err != nil {
		return Secret{}, fmt.Errorf("keychain get %s: %w", o.entry(f), classify(runtime.GOOS, err))
	}
	return New(v), nil
}

// Set implements Keychain.
func (k OS) Set(o Owner, f Field, s Secret) error {
	if err := sessionBus(); err != nil {
		return fmt.Errorf("keychain set %s: %w", o.entry(f), err)
	}
	if err := checkSet(o, f, s); err != nil {
		return fmt.Errorf("keychain set %s: %w", o.entry(f), err)
	}
	if err := keyring.Set(k.service(), o.entry(f), s.Reveal()); err != nil {
		return fmt.Errorf("keychain set %s: %w", o.entry(f), classify(runtime.GOOS, err))
	}
	return nil
}

// Delete implements Keychain.
func (k OS) Delete(o Owner, f Field) error {
	if err := sessionBus(); err != nil {
		return fmt.Errorf("keychain delete %s: %w", o.entry(f), err)
	}
	if err := checkKey(o, f); err != nil {
		return fmt.Errorf("keychain delete %s: %w", o.entry(f), err)
	}
	err := keyring.Delete(k.service(), o.entry(f))
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("keychain delete %s: %w", o.entry(f), classify(runtime.GOOS, err))
	}
	return nil
}

// DeleteAll implements Keychain. It stops at the first failure.
func (k OS) DeleteAll(o Owner) error { return deleteAll(k, o) }

// deleteAll deletes every field of o from k.
func deleteAll(k Keychain, o Owner) error {
	for _, f := range AllFields {
		if err := k.Delete(o, f); err != nil {
			return err
		}
	}
	return nil
}

// checkKey validates an owner and field.
func checkKey(o Owner, f Field) error {
	switch {
	case o.id == "":
		return errors.New("empty id")
	case len(o.id) > maxIDLen:
		return fmt.Errorf("id longer than %d bytes", maxIDLen)
	case strings.ContainsAny(o.id, "/:"):
		return fmt.Errorf("id %q holds '/' or ':', which separate the parts of an entry's name", o.id)
	case !f.valid():
		return fmt.Errorf("unknown field %q", string(f))
	}
	return nil
}

// checkSet validates a Set's arguments, the value's size included.
func checkSet(o Owner, f Field, s Secret) error {
	if err := checkKey(o, f); err != nil {
		return err
	}
	if n := len(s.Reveal()); n > MaxSize {
		return fmt.Errorf("%d bytes, over the %d-byte limit: %w", n, MaxSize, ErrTooLarge)
	}
	return nil
}
