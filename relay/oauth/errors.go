package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/oauth2"
)

// Sentinels callers branch on with errors.Is.
var (
	// ErrInvalidGrant: the refresh token (or code) is dead. The account needs a
	// new login; retrying will not help. Matches Claude/Google invalid_grant and
	// Codex refresh_token_expired|reused|invalidated and token_revoked.
	ErrInvalidGrant = errors.New("refresh token is no longer valid: log in again")
	// ErrStateMismatch: a callback or a pasted code carried a state this login
	// did not issue. It is refused and never exchanged.
	ErrStateMismatch = errors.New("login answer does not match this login (state mismatch): start the login again")
	// ErrCancelled: the login was cancelled (context, or a GET on CancelPath).
	// A context error is wrapped alongside it.
	ErrCancelled = errors.New("login cancelled")
	// ErrAccessDenied: the user declined the consent screen.
	ErrAccessDenied = errors.New("access denied in the browser")
	// ErrNoDeviceFlow: the provider offers no device-code login.
	ErrNoDeviceFlow = errors.New("this provider has no device-code login: use the browser login")
)

// invalidGrantCodes are the provider error codes that mean "log in again".
var invalidGrantCodes = map[string]bool{
	"invalid_grant":             true,
	"refresh_token_expired":     true,
	"refresh_token_reused":      true,
	"refresh_token_invalidated": true,
	"token_revoked":             true,
}

// TokenError is a failed call to a token endpoint. It carries the provider's
// error code and description, never the response body. errors.Is(err,
// ErrInvalidGrant) reports a dead grant; errors.As to *oauth2.RetrieveError
// also works (its Body is always nil).
type TokenError struct {
	Provider string // "claude", "codex", "gemini"
	Op       string // "exchange", "refresh", "device code", "device poll"
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the provider's error code (invalid_grant, refresh_token_reused,
	// invalid_scope, …), "" if the body had none.
	Code string
	// Description is error_description or error.message, shortened.
	Description string
	// RetryAfter is the server's Retry-After (or Retry-After-Ms), 0 if none.
	RetryAfter time.Duration
}

func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Provider, e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	if e.Op == "refresh" && e.InvalidGrant() {
		b.WriteString(" (")
		b.WriteString(ErrInvalidGrant.Error())
		b.WriteString(")")
	}
	return b.String()
}

// InvalidGrant reports whether the code says the grant is dead for good.
func (e *TokenError) InvalidGrant() bool { return invalidGrantCodes[strings.ToLower(e.Code)] }

// Is makes errors.Is(err, ErrInvalidGrant) true for a dead grant.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidGrant && e.InvalidGrant() }

// Unwrap offers the error as an *oauth2.RetrieveError without its body.
func (e *TokenError) Unwrap() error {
	return &oauth2.RetrieveError{
		Response:         &http.Response{StatusCode: e.StatusCode, Status: strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)},
		ErrorCode:        e.Code,
		ErrorDescription: e.Description,
	}
}

// AuthorizeError is an error the provider sent to the callback
// (?error=…&error_description=…). access_denied matches ErrAccessDenied.
type AuthorizeError struct {
	Provider, Code, Description string
}

func (e *AuthorizeError) Error() string {
	s := e.Provider + " login refused: " + e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	return s
}

// Is makes access_denied match ErrAccessDenied.
func (e *AuthorizeError) Is(target error) bool {
	return target == ErrAccessDenied && e.Code == "access_denied"
}

// cleanText makes a provider-supplied text safe for an error string: no
// control characters, no given secrets, bounded length.
func cleanText(s string, secrets ...string) string {
	for _, sec := range secrets {
		if len(sec) >= 8 {
			s = strings.ReplaceAll(s, sec, "[REDACTED]")
		}
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	const limit = 300
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// retryAfter reads Retry-After-Ms or Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
