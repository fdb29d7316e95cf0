package secrets

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/zalando/go-keyring"
)

// Field names one secret of an account. With the account id it makes the
// keychain entry's user name, "<account>/<field>".
type Field string

// The fields an account can hold.
const (
	APIKey        Field = "api_key"
	AccessToken   Field = "access_token"
	RefreshToken  Field = "refresh_token"
	IDToken       Field = "id_token"
	ProxyPassword Field = "proxy_password"
)

// AllFields lists every Field; DeleteAccount deletes each of them.
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
	// maxAccountLen bounds an account id, in bytes, so that service, user
	// name and a MaxSize secret stay within macOS's 4,096-byte command line
	// even with every character escaped.
	maxAccountLen = 100
)

// Keychain stores secrets by account and field. Implementations are safe for
// concurrent use. Errors wrap ErrNotFound, ErrTooLarge or ErrUnavailable and
// name the account and field, never the value.
type Keychain interface {
	// Get returns the secret, or an error wrapping ErrNotFound.
	Get(account string, f Field) (Secret, error)
	// Set stores s, replacing any previous value. A value over MaxSize
	// bytes is refused with ErrTooLarge before the keychain is touched.
	Set(account string, f Field, s Secret) error
	// Delete removes the secret; deleting a missing one is not an error.
	Delete(account string, f Field) error
	// DeleteAccount removes every field of the account.
	DeleteAccount(account string) error
}

// Compile-time checks.
var (
	_ Keychain = OS{}
	_ Keychain = (*Memory)(nil)
)

// DefaultService is the keychain service name Keypool's entries live under.
const DefaultService = "keypool"

// probeUser is the entry Check looks up. It has no "/", so it is never an
// account's entry.
const probeUser = "keypool-probe"

// OS is the real OS keychain, via go-keyring: service Service, user name
// "<account>/<field>". The zero OS uses DefaultService; tests set Service
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
	_, err := keyring.Get(k.service(), probeUser)
	if err == nil || errors.Is(err, keyring.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("keychain check: %w", classify(runtime.GOOS, err))
}

// Get implements Keychain.
func (k OS) Get(account string, f Field) (Secret, error) {
	if err := checkKey(account, f); err != nil {
		return Secret{}, fmt.Errorf("keychain get %s/%s: %w", account, f, err)
	}
	v, err := keyring.Get(k.service(), user(account, f))
	if err != nil {
		return Secret{}, fmt.Errorf("keychain get %s/%s: %w", account, f, classify(runtime.GOOS, err))
	}
	return New(v), nil
}

// Set implements Keychain.
func (k OS) Set(account string, f Field, s Secret) error {
	if err := checkSet(account, f, s); err != nil {
		return fmt.Errorf("keychain set %s/%s: %w", account, f, err)
	}
	if err := keyring.Set(k.service(), user(account, f), s.Reveal()); err != nil {
		return fmt.Errorf("keychain set %s/%s: %w", account, f, classify(runtime.GOOS, err))
	}
	return nil
}

// Delete implements Keychain.
func (k OS) Delete(account string, f Field) error {
	if err := checkKey(account, f); err != nil {
		return fmt.Errorf("keychain delete %s/%s: %w", account, f, err)
	}
	err := keyring.Delete(k.service(), user(account, f))
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("keychain delete %s/%s: %w", account, f, classify(runtime.GOOS, err))
	}
	return nil
}

// DeleteAccount implements Keychain. It stops at the first failure.
func (k OS) DeleteAccount(account string) error {
	for _, f := range AllFields {
		if err := k.Delete(account, f); err != nil {
			return err
		}
	}
	return nil
}

// user is the keychain entry's user name.
func user(account string, f Field) string { return account + "/" + string(f) }

// checkKey validates an account id and field.
func checkKey(account string, f Field) error {
	switch {
	case account == "":
		return errors.New("empty account id")
	case len(account) > maxAccountLen:
		return fmt.Errorf("account id longer than %d bytes", maxAccountLen)
	case !f.valid():
		return fmt.Errorf("unknown field %q", string(f))
	}
	return nil
}

// checkSet validates a Set's arguments, the value's size included.
func checkSet(account string, f Field, s Secret) error {
	if err := checkKey(account, f); err != nil {
		return err
	}
	if n := len(s.Reveal()); n > MaxSize {
		return fmt.Errorf("%d bytes, over the %d-byte limit: %w", n, MaxSize, ErrTooLarge)
	}
	return nil
}
