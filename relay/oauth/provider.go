// Package oauth logs a user in to a subscription provider (Claude, ChatGPT/Codex,
// Google/Gemini) through the browser and refreshes the tokens it gets back.
//
// Everything that differs between providers is data in a [Provider]: endpoints,
// client id, scopes, the body format of each token call, the callback port and
// path. [Claude], [Codex] and [Gemini] return the real values; tests point a
// Provider at an httptest server by setting its fields, and [FromEnv] lets a user
// do the same with environment variables:
//
//	KEYPOOL_CLAUDE_AUTHORIZE_URL, KEYPOOL_CLAUDE_TOKEN_URL, KEYPOOL_CLAUDE_REFRESH_URL,
//	KEYPOOL_CLAUDE_MANUAL_REDIRECT_URL, KEYPOOL_CLAUDE_SUCCESS_URL, KEYPOOL_CLAUDE_CLIENT_ID,
//	KEYPOOL_CLAUDE_CALLBACK_PORTS
//
//	KEYPOOL_CODEX_ISSUER (rebuilds every Codex URL below from one origin), then per URL:
//	KEYPOOL_CODEX_AUTHORIZE_URL, KEYPOOL_CODEX_TOKEN_URL, KEYPOOL_CODEX_REFRESH_URL,
//	KEYPOOL_CODEX_DEVICE_CODE_URL, KEYPOOL_CODEX_DEVICE_TOKEN_URL,
//	KEYPOOL_CODEX_DEVICE_VERIFICATION_URL, KEYPOOL_CODEX_DEVICE_REDIRECT_URL,
//	KEYPOOL_CODEX_CLIENT_ID, KEYPOOL_CODEX_CALLBACK_PORTS (default "1455,1457")
//
//	KEYPOOL_GOOGLE_AUTHORIZE_URL, KEYPOOL_GOOGLE_TOKEN_URL, KEYPOOL_GOOGLE_REFRESH_URL,
//	KEYPOOL_GOOGLE_MANUAL_REDIRECT_URL, KEYPOOL_GOOGLE_SUCCESS_URL, KEYPOOL_GOOGLE_CLIENT_ID,
//	KEYPOOL_GOOGLE_CLIENT_SECRET, KEYPOOL_GOOGLE_CALLBACK_PORTS, KEYPOOL_CODE_ASSIST_ENDPOINT
//
// Tokens are secrets: [Token] prints and logs itself with them redacted, and no
// error of this package carries a token or a response body that holds one.
package oauth

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// BodyFormat is how a token-endpoint request body is encoded.
type BodyFormat int

const (
	// FormatJSON sends application/json (Claude's token endpoint, Codex refresh).
	FormatJSON BodyFormat = iota
	// FormatForm sends application/x-www-form-urlencoded (RFC 6749; Codex
	// exchange, Google).
	FormatForm
)

// Param is one query parameter; a list of them keeps its order.
type Param struct{ Key, Value string }

// Provider describes one provider's OAuth client. The zero value of an optional
// field has the default its comment names.
type Provider struct {
	// Name is the short id used in errors and env names ("claude", "codex",
	// "gemini"); Label is the human name used in progress messages.
	Name, Label string

	ClientID string
	// ClientSecret is sent on exchange and refresh when set (Google's
	// installed-app secret, public by design).
	ClientSecret string

	AuthorizeURL string
	TokenURL     string
	// RefreshURL is where the refresh grant goes; "" means TokenURL.
	RefreshURL string

	// Scopes are asked for at login, space-joined.
	Scopes []string
	// AuthorizeParams are added to the authorize URL after the standard ones.
	AuthorizeParams []Param

	// ExchangeFormat and RefreshFormat encode the two token grants.
	ExchangeFormat, RefreshFormat BodyFormat
	// ExchangeState sends the state in the code exchange (Claude).
	ExchangeState bool
	// RefreshScopes, when set, are sent as "scope" on refresh (Claude Code sends
	// the token's stored scopes; set this from Token.Scope to do the same).
	// RefreshFallbackScopes are tried once when the first refresh answers
	// invalid_scope.
	RefreshScopes, RefreshFallbackScopes []string

	// SetupTokenScopes and SetupTokenLifetime describe Claude's long-lived
	// setup token; a provider without SetupTokenScopes refuses SetupToken.
	SetupTokenScopes   []string
	SetupTokenLifetime time.Duration

	// CallbackHost is the address the loopback server binds ("" = 127.0.0.1).
	// CallbackPorts are tried in order, 0 meaning OS-assigned (nil = {0}).
	// CallbackPath is the redirect path; RedirectHost is the host written in
	// redirect_uri ("" = CallbackHost).
	CallbackHost  string
	CallbackPorts []int
	CallbackPath  string
	RedirectHost  string
	// CancelPath, when set, is served too: a GET there cancels the login (Codex
	// sends it to a previous login server that holds the port).
	CancelPath string
	// SuccessURL is where the browser is redirected after a good exchange; ""
	// shows a small local page instead.
	SuccessURL string

	// ManualRedirectURL is the redirect_uri of the paste flow: the provider's
	// own page shows the code for the user to paste. "" means the paste
	// fallback accepts only the loopback callback URL.
	ManualRedirectURL string
	// PasteBareCode accepts a pasted code that carries no state (Google's
	// user-code flow); otherwise a paste must carry the state.
	PasteBareCode bool

	// Device-code flow (Codex). DeviceCodeURL "" means the provider has none.
	DeviceCodeURL, DeviceTokenURL, DeviceVerificationURL, DeviceRedirectURL string
	// DevicePollInterval overrides the server's polling interval (0 = the
	// server's, 5 s if it gives none). DeviceTimeout bounds the wait (0 = 15 min).
	DevicePollInterval, DeviceTimeout time.Duration

	// CodeAssistURL is Google Code Assist's base, e.g.
	// https://cloudcode-pa.googleapis.com/v1internal; methods are {base}:method.
	CodeAssistURL string
	// OperationPollInterval is how often DiscoverProject polls onboarding
	// (0 = 5 s).
	OperationPollInterval time.Duration

	// UserAgent and Accept are sent to the token endpoints when set.
	UserAgent, Accept string

	// CLILogin reads the login the provider's own CLI keeps under a home
	// directory, for `keypool login --from-cli`; nil when its CLI keeps
	// none Keypool can take over. Call it through ReadCLILogin.
	CLILogin func(home string) (*Token, error)
}

// NeedsProject reports that an account of this login serves through
// Code Assist, which needs its Google Cloud project found after login
// (see DiscoverProject).
func (p Provider) NeedsProject() bool { return p.CodeAssistURL != "" }

// Claude-account constants (PROTOCOLS §1.1–1.2).
const (
	claudeClientID       = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
	claudeAuthorizeURL   = "https://claude.com/cai/oauth/authorize"
	claudeTokenURL       = "https://platform.claude.com/v1/oauth/token"
	claudeManualRedirect = "https://platform.claude.com/oauth/code/callback"
	claudeSuccessURL     = "https://platform.claude.com/oauth/code/success?app=claude-code"
)

// Claude returns the Claude subscription (Pro/Max/Team/Enterprise) login as
// Claude Code does it.
func Claude() Provider {
	base := []string{"user:profile", "user:inference", "user:sessions:claude_code", "user:mcp_servers", "user:file_upload"}
	return Provider{
		Name:                  "claude",
		Label:                 "Claude",
		ClientID:              claudeClientID,
		AuthorizeURL:          claudeAuthorizeURL,
		TokenURL:              claudeTokenURL,
		Scopes:                dedupe(append(append([]string{"org:create_api_key", "user:profile"}, base...), "user:plugins", "user:privacy_consents:write")),
		AuthorizeParams:       []Param{{"code", "true"}},
		ExchangeFormat:        FormatJSON,
		RefreshFormat:         FormatJSON,
		ExchangeState:         true,
		RefreshScopes:         append(append([]string(nil), base...), "user:plugins"),
		RefreshFallbackScopes: base,
		SetupTokenScopes:      []string{"user:inference"},
		SetupTokenLifetime:    365 * 24 * time.Hour,
		CallbackPath:          "/callback",
		RedirectHost:          "localhost",
		SuccessURL:            claudeSuccessURL,
		ManualRedirectURL:     claudeManualRedirect,
		UserAgent:             "axios/1.15.2",
		Accept:                "application/json, text/plain, */*",
		CLILogin:              claudeCodeLogin,
	}
}

// Codex constants (PROTOCOLS §4.1).
const (
	codexIssuer   = "https://auth.openai.com"
	codexClientID = "app_EMoamEEZ73f0CkXaXp7hrann"
)

// Codex returns the ChatGPT login as the Codex CLI does it, with the
// device-code flow.
func Codex() Provider {
	p := Provider{
		Name:     "codex",
		Label:    "ChatGPT",
		ClientID: codexClientID,
		Scopes:   []string{"openid", "profile", "email", "offline_access", "api.connectors.read", "api.connectors.invoke"},
		AuthorizeParams: []Param{
			{"id_token_add_organizations", "true"},
			{"codex_cli_simplified_flow", "true"},
			{"originator", "codex_cli_rs"},
		},
		ExchangeFormat: FormatForm,
		RefreshFormat:  FormatJSON,
		CallbackPorts:  []int{1455, 1457},
		CallbackPath:   "/auth/callback",
		RedirectHost:   "localhost",
		CancelPath:     "/cancel",
		CLILogin:       codexCLILogin,
	}
	p.setCodexIssuer(codexIssuer)
	return p
}

func (p *Provider) setCodexIssuer(issuer string) {
	issuer = strings.TrimRight(issuer, "/")
	p.AuthorizeURL = issuer + "/oauth/authorize"
	p.TokenURL = issuer + "/oauth/token"
	p.RefreshURL = ""
	p.DeviceCodeURL = issuer + "/api/accounts/deviceauth/usercode"
	p.DeviceTokenURL = issuer + "/api/accounts/deviceauth/token"
	p.DeviceVerificationURL = issuer + "/codex/device"
	p.DeviceRedirectURL = issuer + "/deviceauth/callback"
}

// Google / Gemini CLI constants (PROTOCOLS §3.1–3.2).
const (
	googleClientID     = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
	googleClientSecret = "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" // installed-app secret, public by design
	googleAuthorizeURL = "https://accounts.google.com/o/oauth2/v2/auth"
	googleTokenURL     = "https://oauth2.googleapis.com/token"
	googleManual       = "https://codeassist.google.com/authcode"
	googleSuccessURL   = "https://developers.google.com/gemini-code-assist/auth_success_gemini"
	codeAssistURL      = "https://cloudcode-pa.googleapis.com/v1internal"
)

// Gemini returns the Google login of the Gemini CLI and its Code Assist
// endpoint. Since 2026-06-18 only Code Assist Standard/Enterprise and Workspace
// accounts are served through it.
func Gemini() Provider {
	return Provider{
		Name:         "gemini",
		Label:        "Google",
		ClientID:     googleClientID,
		ClientSecret: googleClientSecret,
		AuthorizeURL: googleAuthorizeURL,
		TokenURL:     googleTokenURL,
		Scopes: []string{
			"https://www.googleapis.com/auth/cloud-platform",
			"https://www.googleapis.com/auth/userinfo.email",
			"https://www.googleapis.com/auth/userinfo.profile",
		},
		AuthorizeParams:   []Param{{"access_type", "offline"}, {"prompt", "consent"}},
		ExchangeFormat:    FormatForm,
		RefreshFormat:     FormatForm,
		CallbackPath:      "/oauth2callback",
		RedirectHost:      "127.0.0.1",
		SuccessURL:        googleSuccessURL,
		ManualRedirectURL: googleManual,
		PasteBareCode:     true,
		CodeAssistURL:     codeAssistURL,
	}
}

// FromEnv returns p with the endpoints overridden by the environment variables
// listed in the package doc. Unset or empty variables leave a field alone.
func FromEnv(p Provider) Provider { return p.fromEnv(os.Getenv) }

func (p Provider) fromEnv(getenv func(string) string) Provider {
	prefix := "KEYPOOL_" + strings.ToUpper(p.Name) + "_"
	if p.Name == "gemini" {
		prefix = "KEYPOOL_GOOGLE_"
		set(&p.CodeAssistURL, getenv("KEYPOOL_CODE_ASSIST_ENDPOINT"))
	}
	if p.Name == "codex" {
		if v := getenv("KEYPOOL_CODEX_ISSUER"); v != "" {
			p.setCodexIssuer(v)
		}
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"AUTHORIZE_URL", &p.AuthorizeURL},
		{"TOKEN_URL", &p.TokenURL},
		{"REFRESH_URL", &p.RefreshURL},
		{"CLIENT_ID", &p.ClientID},
		{"CLIENT_SECRET", &p.ClientSecret},
		{"MANUAL_REDIRECT_URL", &p.ManualRedirectURL},
		{"SUCCESS_URL", &p.SuccessURL},
		{"DEVICE_CODE_URL", &p.DeviceCodeURL},
		{"DEVICE_TOKEN_URL", &p.DeviceTokenURL},
		{"DEVICE_VERIFICATION_URL", &p.DeviceVerificationURL},
		{"DEVICE_REDIRECT_URL", &p.DeviceRedirectURL},
	} {
		set(f.dst, getenv(prefix+f.name))
	}
	if v := getenv(prefix + "CALLBACK_PORTS"); v != "" {
		var ports []int
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 0 || n > 65535 {
				ports = nil // a bad list is ignored as a whole
				break
			}
			ports = append(ports, n)
		}
		if len(ports) > 0 {
			p.CallbackPorts = ports
		}
	}
	return p
}

func set(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (p Provider) refreshURL() string {
	if p.RefreshURL != "" {
		return p.RefreshURL
	}
	return p.TokenURL
}

func (p Provider) label() string {
	if p.Label != "" {
		return p.Label
	}
	return p.Name
}

// errorf prefixes an error with the provider's name.
func (p Provider) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %w", p.Name, fmt.Errorf(format, args...))
}
