package oauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// reply is one scripted answer of the fake refresh endpoint.
type reply struct {
	status int
	header map[string]string
	body   string
}

func TestRefresh(t *testing.T) {
	codexID := func(t *testing.T) string {
		return unsignedJWT(t, map[string]any{
			"https://api.openai.com/profile": map[string]any{"email": "profile@example.com"},
			"https://api.openai.com/auth":    map[string]any{"chatgpt_account_id": "acct-2", "chatgpt_plan_type": "plus"},
		})
	}
	tests := []struct {
		name    string
		kind    string
		replies func(t *testing.T) []reply
		// wantScopes are the scope values the requests carry, in order.
		wantScopes  []string
		wantRefresh string
		wantInvalid bool
		wantErr     bool
		check       func(t *testing.T, tok *Token, err error)
	}{
		{
			name: "claude_rotates",
			kind: "claude",
			replies: func(*testing.T) []reply {
				return []reply{{200, nil, fmt.Sprintf(`{"access_token":%q,"refresh_token":%q,"expires_in":28800,"refresh_token_expires_in":2592000,"scope":"user:inference","account":{"uuid":"u-1","email_address":"a@b.c"}}`, accessSecret, newRefresh)}}
			},
			wantScopes:  []string{"user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins"},
			wantRefresh: newRefresh,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.AccountID != "u-1" || tok.Email != "a@b.c" {
					t.Errorf("identity = %q %q, want u-1 a@b.c", tok.AccountID, tok.Email)
				}
				if d := time.Until(tok.RefreshExpiry); d < 29*24*time.Hour || d > 30*24*time.Hour {
					t.Errorf("refresh expiry in %v, want 30 days (refresh_token_expires_in)", d)
				}
			},
		},
		{
			name: "codex_rotates_and_reads_id_token",
			kind: "codex",
			replies: func(t *testing.T) []reply {
				return []reply{{200, nil, fmt.Sprintf(`{"id_token":%q,"access_token":%q,"refresh_token":%q}`, codexID(t), accessSecret, newRefresh)}}
			},
			wantScopes:  []string{""},
			wantRefresh: newRefresh,
			check: func(t *testing.T, tok *Token, _ error) {
				if tok.AccountID != "acct-2" || tok.Email != "profile@example.com" || tok.PlanType != "plus" {
					t.Errorf("identity = %q %q %q, want acct-2 profile@example.com plus", tok.AccountID, tok.Email, tok.PlanType)
				}
			},
		},
		{
			name: "codex_jwt_access_token_expiry",
			kind: "codex",
			replies: func(t *testing.T) []reply {
				at := unsignedJWT(t, map[string]any{"exp": 4102444800}) // 2100-01-01
				return []reply{{200, nil, fmt.Sprintf(`{"access_token":%q}`, at)}}
			},
			wantScopes:  []string{""},
			wantRefresh: oldRefresh,
			check: func(t *testing.T, tok *Token, _ error) {
				if !tok.Expiry.Equal(time.Unix(4102444800, 0)) {
					t.Errorf("expiry = %v, want the JWT's exp, %v", tok.Expiry, time.Unix(4102444800, 0))
				}
			},
		},
		{
			name: "gemini_keeps_old_refresh_token",
			kind: "gemini",
			replies: func(*testing.T) []reply {
				return []reply{{200, nil, fmt.Sprintf(`{"access_token":%q,"expires_in":3599,"scope":"x","token_type":"Bearer"}`, accessSecret)}}
			},
			wantScopes:  []string{""},
			wantRefresh: oldRefresh,
			check: func(t *testing.T, tok *Token, _ error) {
				if d := time.Until(tok.Expiry); d < 59*time.Minute || d > time.Hour {
					t.Errorf("expiry in %v, want 59–60 minutes", d)
				}
			},
		},
		{
			name: "claude_invalid_grant",
			kind: "claude",
			replies: func(*testing.T) []reply {
				return []reply{{400, nil, `{"error":"invalid_grant","error_description":"Refresh token not found or invalid"}`}}
			},
			wantScopes:  []string{"user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins"},
			wantInvalid: true,
			check: func(t *testing.T, _ *Token, err error) {
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || re.Body != nil {
					t.Errorf("errors.As RetrieveError = %+v, want ErrorCode invalid_grant and no Body", re)
				}
				if !strings.Contains(err.Error(), "Refresh token not found or invalid") {
					t.Errorf("err = %v, want the provider's description in it", err)
				}
			},
		},
		{
			name: "gemini_invalid_grant",
			kind: "gemini",
			replies: func(*testing.T) []reply {
				return []reply{{400, map[string]string{"Content-Type": "application/json"}, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`}}
			},
			wantScopes:  []string{""},
			wantInvalid: true,
		},
		{
			name: "codex_refresh_token_reused",
			kind: "codex",
			replies: func(*testing.T) []reply {
				return []reply{{401, nil, `{"error":{"code":"refresh_token_reused","message":"Your refresh token has already been used"}}`}}
			},
			wantScopes:  []string{""},
			wantInvalid: true,
		},
		{
			name: "codex_401_unknown_code_is_not_invalid_grant",
			kind: "codex",
			replies: func(*testing.T) []reply {
				return []reply{{401, nil, `{"error":{"code":"something_else"}}`}}
			},
			wantScopes: []string{""},
			wantErr:    true,
		},
		{
			name: "server_error_is_not_invalid_grant",
			kind: "claude",
			replies: func(*testing.T) []reply {
				// A misbehaving server echoes the secrets; none may reach the error.
				return []reply{{500, nil, fmt.Sprintf(`<html>oops refresh_token=%s access=%s</html>`, oldRefresh, accessSecret)}}
			},
			wantScopes: []string{"user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins"},
			wantErr:    true,
			check: func(t *testing.T, _ *Token, err error) {
				var te *TokenError
				if !errors.As(err, &te) || te.StatusCode != 500 {
					t.Errorf("err = %#v, want a TokenError with 500", err)
				}
			},
		},
		{
			name: "description_echoing_the_token_is_scrubbed",
			kind: "claude",
			replies: func(*testing.T) []reply {
				return []reply{{400, nil, fmt.Sprintf(`{"error":"invalid_grant","error_description":"token %s is revoked"}`, oldRefresh)}}
			},
			wantScopes:  []string{"user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins"},
			wantInvalid: true,
		},
		{
			name: "rate_limited_carries_retry_after",
			kind: "claude",
			replies: func(*testing.T) []reply {
				return []reply{{429, map[string]string{"Retry-After": "7"}, `{"error":{"type":"rate_limit_error","message":"slow down"}}`}}
			},
			wantScopes: []string{"user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins"},
			wantErr:    true,
			check: func(t *testing.T, _ *Token, err error) {
				var te *TokenError
				if !errors.As(err, &te) || te.RetryAfter != 7*time.Second || te.Code != "rate_limit_error" {
					t.Errorf("err = %+v, want retry after 7s and code rate_limit_error", te)
				}
			},
		},
		{
			name: "claude_invalid_scope_retries_with_fallback",
			kind: "claude",
			replies: func(*testing.T) []reply {
				return []reply{
					{400, nil, `{"error":"invalid_scope","error_description":"scope not granted"}`},
					{200, nil, fmt.Sprintf(`{"access_token":%q,"refresh_token":%q,"expires_in":60}`, accessSecret, newRefresh)},
				}
			},
			wantScopes: []string{
				"user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins",
				"user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload",
			},
			wantRefresh: newRefresh,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			replies := tc.replies(t)
			var (
				mu     sync.Mutex
				scopes []string
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				format := FormatJSON
				if tc.kind == "gemini" {
					format = FormatForm
				}
				body := readBody(t, r, format)
				checkRefreshBody(t, tc.kind, body)
				mu.Lock()
				i := len(scopes)
				scopes = append(scopes, body["scope"])
				mu.Unlock()
				if i >= len(replies) {
					t.Errorf("request %d, want at most %d", i+1, len(replies))
					w.WriteHeader(http.StatusTeapot)
					return
				}
				rp := replies[i]
				for k, v := range rp.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(rp.status)
				_, _ = io.WriteString(w, rp.body)
			}))
			defer srv.Close()
			var p Provider
			switch tc.kind {
			case "claude":
				p = Claude()
			case "codex":
				p = Codex()
			case "gemini":
				p = Gemini()
			}
			p.TokenURL = srv.URL + "/token"
			p.RefreshURL = ""

			tok, err := p.Refresh(testContext(t), srv.Client(), oldRefresh)
			mu.Lock()
			gotScopes := scopes
			mu.Unlock()
			if strings.Join(gotScopes, "|") != strings.Join(tc.wantScopes, "|") {
				t.Errorf("scopes sent = %q, want %q", gotScopes, tc.wantScopes)
			}
			switch {
			case tc.wantInvalid:
				if !errors.Is(err, ErrInvalidGrant) {
					t.Fatalf("err = %v, want ErrInvalidGrant", err)
				}
			case tc.wantErr:
				if err == nil || errors.Is(err, ErrInvalidGrant) {
					t.Fatalf("err = %v, want an error that is not ErrInvalidGrant", err)
				}
			default:
				if err != nil {
					t.Fatalf("Refresh: %v, want nil", err)
				}
				if tok.AccessToken == "" {
					t.Error("AccessToken = \"\", want the new one")
				}
				if tok.RefreshToken != tc.wantRefresh {
					t.Errorf("refresh token = %q, want %q", tok.RefreshToken, tc.wantRefresh)
				}
				noSecrets(t, "token printout", fmt.Sprintf("%v %+v %#v %s %v", tok, tok, *tok, tok, []*Token{tok}))
				var buf bytes.Buffer
				slog.New(slog.NewJSONHandler(&buf, nil)).Info("refreshed", "token", tok, "value", *tok)
				noSecrets(t, "slog output", buf.String())
			}
			if err != nil {
				noSecrets(t, "error", err.Error())
				noSecrets(t, "error %+v", fmt.Sprintf("%+v %#v", err, err))
			}
			if tc.check != nil {
				tc.check(t, tok, err)
			}
		})
	}
}

// checkRefreshBody asserts each provider's refresh wire format.
func checkRefreshBody(t *testing.T, kind string, body map[string]string) {
	t.Helper()
	if body["grant_type"] != "refresh_token" || body["refresh_token"] != oldRefresh {
		t.Errorf("refresh body grant_type=%q, the old refresh token %v; want refresh_token, true", body["grant_type"], body["refresh_token"] == oldRefresh)
	}
	want := map[string][]string{
		"claude": {"grant_type", "refresh_token", "client_id", "scope"},
		"codex":  {"client_id", "grant_type", "refresh_token"},
		"gemini": {"grant_type", "refresh_token", "client_id", "client_secret"},
	}[kind]
	if len(body) != len(want) {
		t.Errorf("%s refresh body has keys %v, want %v", kind, keys(body), want)
	}
	for _, k := range want {
		if body[k] == "" {
			t.Errorf("%s refresh body has no %s, want one", kind, k)
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRefreshEmptyToken(t *testing.T) {
	_, err := Claude().Refresh(testContext(t), nil, "")
	if !errors.Is(err, ErrInvalidGrant) {
		t.Fatalf("err = %v, want ErrInvalidGrant", err)
	}
}

func TestTokenRedacted(t *testing.T) {
	tok := Token{AccessToken: accessSecret, RefreshToken: refreshSecret, IDToken: newRefresh, Scope: "a b", Email: "e@x", Expiry: time.Unix(0, 0)}
	out := fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%d", tok, tok, tok, tok, tok, tok, tok) + fmt.Sprint(&tok) + fmt.Sprintln(tok)
	noSecrets(t, "printout", out)
	if !strings.Contains(out, "access_token=set") || !strings.Contains(out, "e@x") {
		t.Errorf("printout %s, want access_token=set and the email e@x in it", out)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("t", "tok", tok, "ptr", &tok)
	noSecrets(t, "slog", buf.String())
}
