// Package secrets keeps every secret Keypool holds (API keys, OAuth access,
// refresh and id tokens, proxy passwords) in the OS keychain, one entry per
// account and field; never on disk in the clear. The keychain is reached
// through the narrow Keychain interface: OS is the real one (go-keyring:
// Secret Service on Linux, Keychain on macOS, Credential Manager on Windows),
// Memory stands in for it in other packages' tests.
//
// A secret travels as a Secret, which cannot print, log or marshal itself;
// only Reveal gives its value, at the point where it goes on the wire.
package secrets

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted is what a Secret shows instead of its value.
const redacted = "REDACTED"

// Secret is a secret value that cannot print itself: fmt (every verb,
// including %#v and %+v), slog, encoding/json and encoding.TextMarshaler all
// see "REDACTED". Reveal returns the value.
//
// The value sits behind a pointer, so even a struct that holds a Secret in an
// unexported field (which fmt prints by reflection, without calling any
// method) shows an address, not the value. Compare two Secrets with Reveal,
// not ==. The zero Secret is empty.
type Secret struct{ p *string }

// New wraps s. New("") is the zero Secret.
func New(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{p: &s}
}

// Reveal returns the secret's value. Call it only where the value is used
// (a request header, the keychain), never to log or display it.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.p == nil || *s.p == "" }

// String returns "REDACTED".
func (Secret) String() string { return redacted }

// GoString returns "REDACTED", for %#v.
func (Secret) GoString() string { return redacted }

// Format writes "REDACTED" for every verb (quoted for %q), so no verb or flag
// reaches the value.
func (Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, `"`+redacted+`"`)
		return
	}
	io.WriteString(f, redacted)
}

// LogValue makes slog log "REDACTED".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON returns "REDACTED" as a JSON string.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "REDACTED".
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
