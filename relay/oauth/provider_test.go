package oauth

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseIDTokenClaims(t *testing.T) {
	tests := []struct {
		name    string
		claims  map[string]any
		raw     string // used instead of claims when set
		want    IDTokenClaims
		wantErr bool
	}{
		{
			name: "codex_auth_claims",
			claims: map[string]any{
				"email": "a@example.com",
				"exp":   1700000000,
				"https://api.openai.com/auth": map[string]any{
					"chatgpt_account_id": "acct-1", "chatgpt_plan_type": "team", "chatgpt_user_id": "user-1",
				},
			},
			want: IDTokenClaims{Email: "a@example.com", ChatGPTAccountID: "acct-1", ChatGPTPlanType: "team", ChatGPTUserID: "user-1", Expiry: time.Unix(1700000000, 0)},
		},
		{
			name: "profile_email_and_user_id_fallbacks",
			claims: map[string]any{
				"https://api.openai.com/profile": map[string]any{"email": "p@example.com"},
				"https://api.openai.com/auth":    map[string]any{"user_id": "u-2"},
				"chatgpt_account_id":             "top-level",
			},
			want: IDTokenClaims{Email: "p@example.com", ChatGPTAccountID: "top-level", ChatGPTUserID: "u-2"},
		},
		{name: "not_a_jwt", raw: accessSecret, wantErr: true},
		{name: "bad_payload", raw: "a." + accessSecret + ".c", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.raw
			if tok == "" {
				tok = unsignedJWT(t, tc.claims)
			}
			got, err := ParseIDTokenClaims(tok)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseIDTokenClaims = %+v, nil; want an error", got)
				}
				noSecrets(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("claims = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{
		"KEYPOOL_CLAUDE_TOKEN_URL":      "http://127.0.0.1:1/t",
		"KEYPOOL_CLAUDE_AUTHORIZE_URL":  "http://127.0.0.1:1/a",
		"KEYPOOL_CODEX_ISSUER":          "http://127.0.0.1:2/",
		"KEYPOOL_CODEX_TOKEN_URL":       "http://127.0.0.1:3/tok",
		"KEYPOOL_CODEX_CALLBACK_PORTS":  "0, 1456",
		"KEYPOOL_GOOGLE_TOKEN_URL":      "http://127.0.0.1:4/token",
		"KEYPOOL_GOOGLE_CALLBACK_PORTS": "nope",
		"KEYPOOL_CODE_ASSIST_ENDPOINT":  "http://127.0.0.1:5/v1internal",
	}
	getenv := func(k string) string { return env[k] }

	c := Claude().fromEnv(getenv)
	if c.TokenURL != "http://127.0.0.1:1/t" || c.AuthorizeURL != "http://127.0.0.1:1/a" || c.ClientID != claudeClientID {
		t.Errorf("claude = %s %s %s, want the env's token and authorize URLs, the default client id", c.TokenURL, c.AuthorizeURL, c.ClientID)
	}

	x := Codex().fromEnv(getenv)
	if x.AuthorizeURL != "http://127.0.0.1:2/oauth/authorize" || x.DeviceCodeURL != "http://127.0.0.1:2/api/accounts/deviceauth/usercode" ||
		x.DeviceRedirectURL != "http://127.0.0.1:2/deviceauth/callback" {
		t.Errorf("codex = %s %s %s, want each under the env's issuer http://127.0.0.1:2", x.AuthorizeURL, x.DeviceCodeURL, x.DeviceRedirectURL)
	}
	if x.TokenURL != "http://127.0.0.1:3/tok" {
		t.Errorf("codex token URL = %s, want the env's own http://127.0.0.1:3/tok over the issuer's", x.TokenURL)
	}
	if !slices.Equal(x.CallbackPorts, []int{0, 1456}) {
		t.Errorf("codex ports = %v, want [0 1456]", x.CallbackPorts)
	}

	g := Gemini().fromEnv(getenv)
	if g.TokenURL != "http://127.0.0.1:4/token" || g.CodeAssistURL != "http://127.0.0.1:5/v1internal" {
		t.Errorf("gemini = %s %s, want the env's token URL and code assist endpoint", g.TokenURL, g.CodeAssistURL)
	}
	if g.CallbackPorts != nil {
		t.Errorf("gemini ports from a bad list = %v, want nil (the list ignored)", g.CallbackPorts)
	}

	if got := Claude().fromEnv(func(string) string { return "" }).TokenURL; got != claudeTokenURL {
		t.Errorf("claude token URL with an empty env = %s, want the default %s", got, claudeTokenURL)
	}
}

func TestProviderDefaults(t *testing.T) {
	c := Claude()
	if len(c.Scopes) != 8 || c.Scopes[0] != "org:create_api_key" || strings.Count(strings.Join(c.Scopes, " "), "user:profile") != 1 {
		t.Errorf("claude scopes = %v, want 8, org:create_api_key first, user:profile once", c.Scopes)
	}
	x := Codex()
	if !slices.Equal(x.CallbackPorts, []int{1455, 1457}) || x.TokenURL != "https://auth.openai.com/oauth/token" ||
		x.DeviceRedirectURL != "https://auth.openai.com/deviceauth/callback" {
		t.Errorf("codex = %v %s %s, want [1455 1457] and auth.openai.com's token and device callback URLs", x.CallbackPorts, x.TokenURL, x.DeviceRedirectURL)
	}
	g := Gemini()
	if g.RedirectHost != "127.0.0.1" || g.CallbackPath != "/oauth2callback" || g.ClientSecret == "" {
		t.Errorf("gemini = %s %s, secret set %v; want 127.0.0.1, /oauth2callback, true", g.RedirectHost, g.CallbackPath, g.ClientSecret != "")
	}
}
