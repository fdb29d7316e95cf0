package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keypool/app"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/internal/dirtest"
	"keypool/relay/pool"
)

// fakeClaude is a Claude OAuth server: authorize redirects straight back
// with a code, the token endpoint answers in Claude's JSON format.
func fakeClaude(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {"the-code"}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("/v1/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		json.NewDecoder(r.Body).Decode(&body)
		if body["grant_type"] != "authorization_code" || body["code"] != "the-code" || body["code_verifier"] == "" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": "sk-ant-oat01-login-secret", "refresh_token": "sk-ant-ort01-login-secret",
			"expires_in": 28800, "token_type": "Bearer", "scope": "user:inference",
			"account": map[string]string{"uuid": "acc-uuid", "email_address": "me@example.com"},
		})
	})
	mux.HandleFunc("/success", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// keypool login claude, end to end against a fake provider: the browser
// (an HTTP client here) follows the authorize redirect to the loopback
// callback, the code is exchanged, and the account is stored with its
// tokens in the keychain.
// claudeLogin sets up a Claude login against fakeClaude: the app's
// accounts on a fresh store and the keychain, and a "browser" that follows
// the login page's redirects with an HTTP client.
func claudeLogin(t *testing.T) (accts *app.Accounts, keys secrets.Keychain, browser func(string) error, provider string) {
	t.Helper()
	keys = testKeychain(t)
	fake := fakeClaude(t)
	t.Setenv("KEYPOOL_CLAUDE_AUTHORIZE_URL", fake.URL+"/oauth/authorize")
	t.Setenv("KEYPOOL_CLAUDE_TOKEN_URL", fake.URL+"/v1/oauth/token")
	t.Setenv("KEYPOOL_CLAUDE_SUCCESS_URL", fake.URL+"/success")
	t.Setenv("KEYPOOL_CLAUDE_MANUAL_REDIRECT_URL", fake.URL+"/oauth/code/callback")
	st, err := store.Open(filepath.Join(dirtest.New(t), "k.db"), store.Options{})
	must(t, err)
	t.Cleanup(func() { st.Close(); keys.DeleteAll(secrets.Account("claude-me")) })
	browser = func(u string) error {
		go func() {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
			}
		}()
		return nil
	}
	return &app.Accounts{Store: st, Keys: keys}, keys, browser, fake.URL
}

func TestLoginClaude(t *testing.T) {
	accts, keys, browser, _ := claudeLogin(t)
	st := accts.Store
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	acct, err := app.Login(ctx, accts, app.LoginParams{Kind: pool.KindClaudeOAuth, OpenURL: browser, Priority: 7})
	if err != nil {
		t.Fatal(err)
	}
	if acct.ID != "claude-me" || acct.Email != "me@example.com" || acct.Priority != 7 || acct.Expiry.Before(time.Now().Add(7*time.Hour)) {
		t.Errorf("account = %+v, want id claude-me, me@example.com, priority 7, expiry 7 h or more away", acct)
	}
	if s, err := keys.Get(secrets.Account("claude-me"), secrets.RefreshToken); err != nil || s.Reveal() != "sk-ant-ort01-login-secret" {
		t.Errorf("refresh token in keychain: err %v, the login's %v; want nil, true", err, err == nil && s.Reveal() == "sk-ant-ort01-login-secret")
	}
	// Logging in again to an account marked needs_login clears the mark.
	must(t, st.UpdateAccount("claude-me", func(a *store.Account) error { a.Status = store.StatusNeedsLogin; return nil }))
	if _, err := app.Login(ctx, accts, app.LoginParams{Kind: pool.KindClaudeOAuth, ID: "claude-me", OpenURL: browser}); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.Account("claude-me"); a.Status != store.StatusOK {
		t.Errorf("status after a new login = %q, want %q", a.Status, store.StatusOK)
	}
}

// A caller that shows links itself (the desktop dialog) gets the login's
// addresses through Link, and steps without them through Progress; without
// Link (keypool login) the addresses stay in the Progress text.
func TestLoginLinks(t *testing.T) {
	accts, _, browser, provider := claudeLogin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	var links []app.LoginLink
	var steps []string
	lp := app.LoginParams{Kind: pool.KindClaudeOAuth, OpenURL: browser, Paste: strings.NewReader(""),
		Link:     func(l app.LoginLink) { links = append(links, l) },
		Progress: func(m string) { steps = append(steps, m) }}
	if _, err := app.Login(ctx, accts, lp); err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 {
		t.Fatalf("links = %+v, want one", links)
	}
	l := links[0]
	if !strings.HasPrefix(l.URL, provider+"/oauth/authorize?") || !strings.Contains(l.URL, "redirect_uri=http%3A%2F%2Flocalhost") ||
		!strings.Contains(l.Paste, "http://localhost") {
		t.Errorf("this machine's link = %+v, want the provider's authorize URL redirecting to localhost", l)
	}
	if !strings.Contains(l.Elsewhere, url.QueryEscape(provider+"/oauth/code/callback")) || !strings.Contains(l.ElsewherePaste, "the code the page shows") {
		t.Errorf("the link for a browser elsewhere = %q, paste %q; want the code page as redirect, a paste note about the code", l.Elsewhere, l.ElsewherePaste)
	}
	if all := strings.Join(steps, "\n"); strings.Contains(all, "http") || !strings.Contains(all, "Logged in to Claude.") {
		t.Errorf("steps with Link set:\n%s\nwant no address, and \"Logged in to Claude.\"", all)
	}

	steps = nil
	lp.Link = nil
	if _, err := app.Login(ctx, accts, lp); err != nil {
		t.Fatal(err)
	}
	if all := strings.Join(steps, "\n"); !strings.Contains(all, l.URL[:len(provider+"/oauth/authorize?")]) {
		t.Errorf("steps without Link:\n%s\nwant the authorize address in them", all)
	}
}
