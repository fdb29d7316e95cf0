package oauth

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Token is what a login or a refresh returns. AccessToken, RefreshToken and
// IDToken are secrets: String, GoString, Format and LogValue print them only as
// "set", so no fmt verb or slog call leaks them. Store them field by field in
// the keychain; do not marshal a Token to JSON for logs.
type Token struct {
	AccessToken, RefreshToken, IDToken string
	// Expiry is when the access token stops working; zero means it does not
	// expire as far as the provider told us.
	Expiry time.Time
	// RefreshExpiry is when the refresh token stops working, so the login
	// ends; zero when the provider does not say.
	RefreshExpiry time.Time
	// Scope is the space-separated granted scope, when the provider says.
	Scope string

	// Identity read from the provider's answer (not secret).
	// AccountID: Codex chatgpt_account_id (id_token claims); Claude account.uuid.
	AccountID string
	// Email: Codex email claim; Claude account.email_address; Google's id_token
	// email when present.
	Email string
	// PlanType: Codex chatgpt_plan_type.
	PlanType string
}

// String describes the token without its secrets.
func (t Token) String() string {
	var b strings.Builder
	b.WriteString("Token{")
	sep := ""
	field := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(sep)
		sep = " "
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(v)
	}
	field("access_token", setOrEmpty(t.AccessToken))
	field("refresh_token", setOrEmpty(t.RefreshToken))
	field("id_token", setOrEmpty(t.IDToken))
	if !t.Expiry.IsZero() {
		field("expiry", t.Expiry.UTC().Format(time.RFC3339))
	}
	if t.Scope != "" {
		field("scope", strconv.Quote(t.Scope))
	}
	field("account_id", t.AccountID)
	field("email", t.Email)
	field("plan_type", t.PlanType)
	b.WriteString("}")
	return b.String()
}

func setOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return "set"
}

// GoString is String, so %#v does not print secrets either.
func (t Token) GoString() string { return t.String() }

// Format writes String for every verb, so no verb prints a raw field.
func (t Token) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, t.String()) }

// LogValue logs the token's non-secret facts and which secrets are set.
func (t Token) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Bool("access_token", t.AccessToken != ""),
		slog.Bool("refresh_token", t.RefreshToken != ""),
	}
	if t.IDToken != "" {
		attrs = append(attrs, slog.Bool("id_token", true))
	}
	if !t.Expiry.IsZero() {
		attrs = append(attrs, slog.Time("expiry", t.Expiry))
	}
	for _, a := range []struct{ k, v string }{
		{"scope", t.Scope}, {"account_id", t.AccountID}, {"email", t.Email}, {"plan_type", t.PlanType},
	} {
		if a.v != "" {
			attrs = append(attrs, slog.String(a.k, a.v))
		}
	}
	return slog.GroupValue(attrs...)
}

// OAuth2 returns the token as an *oauth2.Token (Bearer), for an
// oauth2.TokenSource. That type prints its secrets: never log it.
func (t *Token) OAuth2() *oauth2.Token {
	return &oauth2.Token{
		AccessToken:  t.AccessToken,
		TokenType:    "Bearer",
		RefreshToken: t.RefreshToken,
		Expiry:       t.Expiry,
	}
}
