package oauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// visit is what the stand-in browser saw.
type visit struct {
	status   int
	finalURL string
	body     string
	err      error
}

// visitAsync GETs u with the browser client in a goroutine the test owns.
func visitAsync(browser *http.Client, u string) <-chan visit {
	out := make(chan visit, 1)
	go func() {
		resp, err := browser.Get(u)
		if err != nil {
			out <- visit{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		out <- visit{status: resp.StatusCode, finalURL: resp.Request.URL.String(), body: string(b)}
	}()
	return out
}

func waitVisit(t *testing.T, ctx context.Context, ch <-chan visit) visit {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatal("the browser got no answer before the test's deadline, want one")
		return visit{}
	}
}

func TestLoginBrowserFlow(t *testing.T) {
	tests := []struct {
		name          string
		kind          string
		setup         bool
		busyFirstPort bool
		wantQuery     map[string]string
		redirectRE    string
		wantFinal     string // final page path the browser lands on, or body text
		check         func(t *testing.T, tok *Token)
	}{
		{
			name: "claude",
			kind: "claude",
			wantQuery: map[string]string{
				"code": "true", "client_id": claudeClientID, "response_type": "code",
				"scope": "org:create_api_key user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload user:plugins user:privacy_consents:write",
			},
			redirectRE: `^http://localhost:\d+/callback$`,
			wantFinal:  "/success",
			check: func(t *testing.T, tok *Token) {
				if tok.AccountID != "acct-uuid-1" || tok.Email != "claude@example.com" {
					t.Errorf("identity = %q %q, want acct-uuid-1 claude@example.com", tok.AccountID, tok.Email)
				}
				if d := time.Until(tok.Expiry); d < 7*time.Hour || d > 8*time.Hour {
					t.Errorf("expiry in %v, want ~8h", d)
				}
				if tok.Scope != "user:inference user:profile" {
					t.Errorf("scope = %q, want \"user:inference user:profile\"", tok.Scope)
				}
			},
		},
		{
			name:       "claude_setup_token",
			kind:       "claude",
			setup:      true,
			wantQuery:  map[string]string{"code": "true", "scope": "user:inference"},
			redirectRE: `^http://localhost:\d+/callback$`,
			wantFinal:  "/success",
		},
		{
			name:          "codex_falls_back_to_next_port",
			kind:          "codex",
			busyFirstPort: true,
			wantQuery: map[string]string{
				"client_id": codexClientID, "response_type": "code",
				"scope":                      "openid profile email offline_access api.connectors.read api.connectors.invoke",
				"id_token_add_organizations": "true", "codex_cli_simplified_flow": "true", "originator": "codex_cli_rs",
			},
			redirectRE: `^http://localhost:\d+/auth/callback$`,
			wantFinal:  "You are logged in",
			check: func(t *testing.T, tok *Token) {
				if tok.AccountID != "acct-chatgpt-1" || tok.Email != "codex@example.com" || tok.PlanType != "pro" {
					t.Errorf("identity = %q %q %q, want acct-chatgpt-1 codex@example.com pro", tok.AccountID, tok.Email, tok.PlanType)
				}
				if tok.IDToken == "" {
					t.Error("IDToken = \"\", want the id token")
				}
			},
		},
		{
			name: "gemini",
			kind: "gemini",
			wantQuery: map[string]string{
				"client_id": googleClientID, "response_type": "code", "access_type": "offline", "prompt": "consent",
				"scope": "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
			},
			redirectRE: `^http://127\.0\.0\.1:\d+/oauth2callback$`,
			wantFinal:  "/success",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			f := newFakeOAuth(t, tc.kind)
			f.wantSetup = tc.setup
			p := f.p
			busyPort := -1
			if tc.busyFirstPort {
				busy, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer busy.Close()
				busyPort = busy.Addr().(*net.TCPAddr).Port
				p.CallbackPorts = []int{busyPort, 0}
			}
			browser := newBrowser(t, true)
			var visited <-chan visit
			opts := LoginOptions{
				HTTPClient: f.client(),
				SetupToken: tc.setup,
				OpenBrowser: func(u string) error {
					if visited != nil {
						t.Error("OpenBrowser called a second time, want once")
						return nil
					}
					checkAuthorizeURL(t, u, f.srv.URL+"/authorize", tc.wantQuery, tc.redirectRE, busyPort)
					visited = visitAsync(browser, u)
					return nil
				},
			}
			tok, err := p.Login(ctx, opts)
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if visited == nil {
				t.Fatal("OpenBrowser was not called, want it called once")
			}
			v := waitVisit(t, ctx, visited)
			if v.err != nil {
				t.Fatalf("browser: %v, want nil", v.err)
			}
			if strings.HasPrefix(tc.wantFinal, "/") {
				if !strings.HasSuffix(v.finalURL, tc.wantFinal) || v.status != http.StatusOK {
					t.Errorf("browser ended on %s (%d), want %s", v.finalURL, v.status, tc.wantFinal)
				}
			} else if !strings.Contains(v.body, tc.wantFinal) {
				t.Errorf("browser page = %q, want %q", v.body, tc.wantFinal)
			}
			if tok.AccessToken != accessSecret || tok.RefreshToken != refreshSecret {
				t.Error("Login returned other tokens than the provider's, want the provider's access and refresh tokens")
			}
			if got := f.exchangeCount(); got != 1 {
				t.Errorf("exchanges = %d, want 1", got)
			}
			if tc.check != nil {
				tc.check(t, tok)
			}
			noSecrets(t, "token printout", fmt.Sprintf("%v %+v %#v %s", tok, tok, *tok, tok))
		})
	}
}

// checkAuthorizeURL asserts the authorize URL the browser is sent to.
func checkAuthorizeURL(t *testing.T, raw, wantBase string, want map[string]string, redirectRE string, busyPort int) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("authorize URL: %v", err)
	}
	if base := strings.SplitN(raw, "?", 2)[0]; base != wantBase {
		t.Errorf("authorize base = %q, want %q", base, wantBase)
	}
	q := u.Query()
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), v)
		}
	}
	if q.Get("response_type") != "code" {
		t.Errorf("response_type = %q, want code", q.Get("response_type"))
	}
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 {
		t.Errorf("PKCE = %q %q, want S256 and a 43-char challenge", q.Get("code_challenge_method"), q.Get("code_challenge"))
	}
	if len(q.Get("state")) < 32 {
		t.Errorf("state %q, want at least 32 characters", q.Get("state"))
	}
	redirect := q.Get("redirect_uri")
	if !regexp.MustCompile(redirectRE).MatchString(redirect) {
		t.Errorf("redirect_uri = %q, want %s", redirect, redirectRE)
	}
	if busyPort > 0 && strings.Contains(redirect, fmt.Sprintf(":%d/", busyPort)) {
		t.Errorf("redirect_uri %q, want a port other than the busy %d", redirect, busyPort)
	}
	if strings.Contains(raw, "+") {
		t.Errorf("authorize URL %s, want spaces as %%20, not +", raw)
	}
}

func TestLoginCallbackRefused(t *testing.T) {
	tests := []struct {
		name    string
		query   func(state string) url.Values
		wantErr error
	}{
		{"wrong_state", func(string) url.Values { return url.Values{"code": {"stolen"}, "state": {"not-this-login"}} }, ErrStateMismatch},
		{"missing_state", func(string) url.Values { return url.Values{"code": {"stolen"}} }, ErrStateMismatch},
		{"access_denied", func(s string) url.Values {
			return url.Values{"error": {"access_denied"}, "error_description": {"user said no"}, "state": {s}}
		}, ErrAccessDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			f := newFakeOAuth(t, "claude")
			browser := newBrowser(t, false)
			var visited <-chan visit
			_, err := f.p.Login(ctx, LoginOptions{
				HTTPClient: f.client(),
				OpenBrowser: func(u string) error {
					q, _ := url.Parse(u)
					redirect := q.Query().Get("redirect_uri")
					visited = visitAsync(browser, redirect+"?"+tc.query(q.Query().Get("state")).Encode())
					return nil
				},
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Login err = %v, want %v", err, tc.wantErr)
			}
			v := waitVisit(t, ctx, visited)
			if v.err != nil || v.status != http.StatusBadRequest {
				t.Errorf("browser got %d %v, want 400", v.status, v.err)
			}
			if n := f.exchangeCount(); n != 0 {
				t.Errorf("token endpoint called %d times, want 0", n)
			}
		})
	}
}

func TestLoginCancelled(t *testing.T) {
	f := newFakeOAuth(t, "codex")
	ctx, cancel := context.WithCancel(testContext(t))
	_, err := f.p.Login(ctx, LoginOptions{
		HTTPClient:  f.client(),
		OpenBrowser: func(string) error { cancel(); return nil },
	})
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrCancelled and context.Canceled", err)
	}
}

func TestLoginCancelPath(t *testing.T) {
	ctx := testContext(t)
	f := newFakeOAuth(t, "codex")
	browser := newBrowser(t, false)
	var visited <-chan visit
	_, err := f.p.Login(ctx, LoginOptions{
		HTTPClient: f.client(),
		OpenBrowser: func(u string) error {
			q, _ := url.Parse(u)
			redirect, _ := url.Parse(q.Query().Get("redirect_uri"))
			visited = visitAsync(browser, "http://"+redirect.Host+"/cancel")
			return nil
		},
	})
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("err = %v, want ErrCancelled", err)
	}
	if v := waitVisit(t, ctx, visited); v.status != http.StatusOK {
		t.Errorf("cancel page status %d, want 200", v.status)
	}
}

// urlsIn returns the http(s) URLs in a progress message.
func urlsIn(msg string) []string {
	var out []string
	for _, w := range strings.Fields(msg) {
		if strings.HasPrefix(w, "http://") || strings.HasPrefix(w, "https://") {
			out = append(out, w)
		}
	}
	return out
}

func TestLoginPaste(t *testing.T) {
	tests := []struct {
		name string
		kind string
		// pick chooses, from the URLs shown, the one the user opens.
		manual bool
		// answer turns the Location the provider redirected to into the
		// lines the user pastes.
		answer         func(loc *url.URL) string
		wantErr        error
		wantRedirectRE string
		wantHint       string
	}{
		{
			name:   "claude_code_hash_state_uses_manual_redirect",
			kind:   "claude",
			manual: true,
			answer: func(loc *url.URL) string {
				return "garbage\n\n" + loc.Query().Get("code") + "#" + loc.Query().Get("state") + "\n"
			},
			wantRedirectRE: `/oauth/code/callback$`,
			wantHint:       "Paste all of the code",
		},
		{
			name:           "codex_full_callback_url_uses_loopback_redirect",
			kind:           "codex",
			answer:         func(loc *url.URL) string { return "  " + loc.String() + "  \n" },
			wantRedirectRE: `^http://localhost:\d+/auth/callback$`,
		},
		{
			name:           "claude_full_manual_url",
			kind:           "claude",
			manual:         true,
			answer:         func(loc *url.URL) string { return loc.String() + "\n" },
			wantRedirectRE: `/oauth/code/callback$`,
		},
		{
			name:           "gemini_bare_code_uses_authcode_redirect",
			kind:           "gemini",
			manual:         true,
			answer:         func(loc *url.URL) string { return loc.Query().Get("code") + "\n" },
			wantRedirectRE: `/authcode$`,
		},
		{
			name:    "claude_wrong_state_refused",
			kind:    "claude",
			manual:  true,
			answer:  func(loc *url.URL) string { return loc.Query().Get("code") + "#someone-elses-state\n" },
			wantErr: ErrStateMismatch,
		},
		{
			name: "codex_url_with_wrong_state_refused",
			kind: "codex",
			answer: func(loc *url.URL) string {
				q := loc.Query()
				q.Set("state", "forged")
				loc.RawQuery = q.Encode()
				return loc.String() + "\n"
			},
			wantErr: ErrStateMismatch,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			f := newFakeOAuth(t, tc.kind)
			pr, pw := io.Pipe()
			t.Cleanup(func() { _ = pw.Close() })
			msgs := make(chan string, 64)
			user := make(chan error, 1)
			browser := newBrowser(t, false)

			// The user reads the URLs, opens one in a browser that cannot reach
			// the loopback server, and pastes what it ends on.
			go func() {
				user <- func() error {
					for {
						select {
						case <-ctx.Done():
							return ctx.Err()
						case m := <-msgs:
							for _, u := range urlsIn(m) {
								q, err := url.Parse(u)
								if err != nil || !strings.HasPrefix(u, f.srv.URL+"/authorize") {
									continue
								}
								isManual := q.Query().Get("redirect_uri") == f.p.ManualRedirectURL
								if isManual != tc.manual {
									continue
								}
								resp, err := browser.Get(u)
								if err != nil {
									return err
								}
								resp.Body.Close()
								loc, err := resp.Location()
								if err != nil {
									return err
								}
								_, err = io.WriteString(pw, tc.answer(loc))
								return err
							}
						}
					}
				}()
			}()

			var hints []string
			tok, err := f.p.Login(ctx, LoginOptions{
				HTTPClient: f.client(),
				NoBrowser:  true,
				Paste:      pr,
				Progress: func(m string) {
					hints = append(hints, m)
					select {
					case msgs <- m:
					default:
					}
				},
			})
			select {
			case uerr := <-user:
				if uerr != nil {
					t.Fatalf("user: %v, want nil", uerr)
				}
			case <-ctx.Done():
				t.Fatal("the user did not paste before the test's deadline, want a paste")
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if n := f.exchangeCount(); n != 0 {
					t.Errorf("token endpoint called %d times, want 0", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Login: %v", err)
			}
			if tok.AccessToken != accessSecret {
				t.Error("Login returned another access token than the provider's, want the provider's")
			}
			if got := f.lastExchange()["redirect_uri"]; !regexp.MustCompile(tc.wantRedirectRE).MatchString(got) {
				t.Errorf("exchange redirect_uri = %q, want %s", got, tc.wantRedirectRE)
			}
			if tc.wantHint != "" && !strings.Contains(strings.Join(hints, "\n"), tc.wantHint) {
				t.Errorf("progress = %q, want the hint %q in it", hints, tc.wantHint)
			}
			for _, h := range hints {
				noSecrets(t, "progress", h)
			}
		})
	}
}

func TestLoginSetupTokenOnlyClaude(t *testing.T) {
	_, err := Codex().Login(testContext(t), LoginOptions{SetupToken: true, NoBrowser: true})
	if err == nil || !strings.Contains(err.Error(), "setup tokens") {
		t.Fatalf("err = %v, want one saying setup tokens are Claude's", err)
	}
}

func TestDeviceLogin(t *testing.T) {
	ctx := testContext(t)
	f := newFakeOAuth(t, "codex")
	var progress []string
	tok, err := f.p.DeviceLogin(ctx, LoginOptions{
		HTTPClient: f.client(),
		Progress:   func(m string) { progress = append(progress, m) },
	})
	if err != nil {
		t.Fatalf("DeviceLogin: %v", err)
	}
	f.mu.Lock()
	polls := f.devicePolls
	f.mu.Unlock()
	if polls != 3 {
		t.Errorf("polls = %d, want 3 (two pending, one success)", polls)
	}
	body := f.lastExchange()
	if body["redirect_uri"] != f.p.DeviceRedirectURL {
		t.Errorf("exchange redirect_uri = %q, want %q", body["redirect_uri"], f.p.DeviceRedirectURL)
	}
	if tok.AccountID != "acct-chatgpt-1" || tok.AccessToken != accessSecret {
		t.Errorf("token = %v, want account acct-chatgpt-1 with the provider's access token", tok)
	}
	all := strings.Join(progress, "\n")
	if !strings.Contains(all, "ABCD-EFGH") || !strings.Contains(all, f.p.DeviceVerificationURL) {
		t.Errorf("progress = %q, want the code ABCD-EFGH and %s in it", all, f.p.DeviceVerificationURL)
	}
}

func TestDeviceLoginUnsupported(t *testing.T) {
	for _, p := range []Provider{Claude(), Gemini()} {
		if _, err := p.DeviceLogin(testContext(t), LoginOptions{}); !errors.Is(err, ErrNoDeviceFlow) {
			t.Errorf("%s: err = %v, want ErrNoDeviceFlow", p.Name, err)
		}
	}
}

func TestDeviceLoginTimeout(t *testing.T) {
	f := newFakeOAuth(t, "codex")
	p := f.p
	p.DeviceTimeout = 15 * time.Millisecond // expires during the pending polls
	p.DevicePollInterval = 10 * time.Millisecond
	_, err := p.DeviceLogin(testContext(t), LoginOptions{HTTPClient: f.client()})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("err = %v, want a timeout", err)
	}
}
