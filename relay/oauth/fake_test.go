package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/oauth2"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Secret values the fakes hand out; no error or printout may contain them.
const (
	accessSecret  = "AT-SECRET-0123456789"
	refreshSecret = "RT-SECRET-0123456789"
	newRefresh    = "RT-SECRET-ROTATED-987654"
	oldRefresh    = "RT-SECRET-OLD-55555555"
)

var allSecrets = []string{accessSecret, refreshSecret, newRefresh, oldRefresh}

// unsignedJWT builds a JWT with the given claims and no signature check.
func unsignedJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(claims) + ".c2ln"
}

// grant is one code the fake authorize endpoint issued.
type grant struct {
	challenge, redirectURI, state, clientID string
}

// fakeOAuth is an httptest OAuth server speaking one provider's wire format:
// /authorize (302 to redirect_uri with code and state), /token (the code
// exchange: JSON for Claude, form for Codex and Google), /success, and the
// Codex device endpoints.
type fakeOAuth struct {
	t    *testing.T
	kind string // claude | codex | gemini
	srv  *httptest.Server
	p    Provider

	mu           sync.Mutex
	grants       map[string]grant
	n            int
	exchanges    int
	exchangeBody map[string]string
	wantSetup    bool
	devicePolls  int
}

func newFakeOAuth(t *testing.T, kind string) *fakeOAuth {
	t.Helper()
	f := &fakeOAuth{t: t, kind: kind, grants: map[string]grant{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	base := f.srv.URL
	switch kind {
	case "claude":
		f.p = Claude()
		f.p.ManualRedirectURL = base + "/oauth/code/callback"
	case "codex":
		f.p = Codex()
		f.p.CallbackPorts = []int{0}
		f.p.DeviceCodeURL = base + "/api/accounts/deviceauth/usercode"
		f.p.DeviceTokenURL = base + "/api/accounts/deviceauth/token"
		f.p.DeviceVerificationURL = base + "/codex/device"
		f.p.DeviceRedirectURL = base + "/deviceauth/callback"
		f.p.DevicePollInterval = 10 * time.Millisecond
	case "gemini":
		f.p = Gemini()
		f.p.ManualRedirectURL = base + "/authcode"
	default:
		t.Fatalf("kind %q, want claude, codex or gemini", kind)
	}
	f.p.AuthorizeURL = base + "/authorize"
	f.p.TokenURL = base + "/token"
	if f.p.SuccessURL != "" {
		f.p.SuccessURL = base + "/success"
	}
	return f
}

func (f *fakeOAuth) client() *http.Client { return f.srv.Client() }

func (f *fakeOAuth) exchangeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exchanges
}

func (f *fakeOAuth) lastExchange() map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exchangeBody
}

func (f *fakeOAuth) serve(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/authorize":
		f.authorize(w, r)
	case "/token":
		f.token(w, r)
	case "/success":
		_, _ = io.WriteString(w, "success page")
	case "/api/accounts/deviceauth/usercode":
		f.userCode(w, r)
	case "/api/accounts/deviceauth/token":
		f.devicePoll(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeOAuth) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	f.n++
	code := fmt.Sprintf("code-%s-%d", f.kind, f.n)
	f.grants[code] = grant{challenge: q.Get("code_challenge"), redirectURI: q.Get("redirect_uri"), state: q.Get("state"), clientID: q.Get("client_id")}
	f.mu.Unlock()
	loc := q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, loc, http.StatusFound)
}

// readBody decodes a JSON or form body into strings, checking the content type.
func readBody(t *testing.T, r *http.Request, want BodyFormat) map[string]string {
	t.Helper()
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	switch want {
	case FormatJSON:
		if ct != "application/json" {
			t.Errorf("content type = %q, want application/json", ct)
		}
		var m map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Errorf("body: %v, want JSON", err)
		}
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
	case FormatForm:
		if ct != "application/x-www-form-urlencoded" {
			t.Errorf("content type = %q, want application/x-www-form-urlencoded", ct)
		}
		if err := r.ParseForm(); err != nil {
			t.Errorf("body: %v, want a form", err)
		}
		for k := range r.PostForm {
			out[k] = r.PostForm.Get(k)
		}
	}
	return out
}

func (f *fakeOAuth) token(w http.ResponseWriter, r *http.Request) {
	t := f.t
	format := FormatForm
	if f.kind == "claude" {
		format = FormatJSON
	}
	body := readBody(t, r, format)
	f.mu.Lock()
	f.exchanges++
	f.exchangeBody = body
	g, ok := f.grants[body["code"]]
	wantSetup := f.wantSetup
	f.mu.Unlock()

	if body["grant_type"] != "authorization_code" {
		t.Errorf("grant_type = %q, want authorization_code", body["grant_type"])
	}
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_grant","error_description":"unknown code"}`)
		return
	}
	if body["client_id"] != f.p.ClientID || g.clientID != f.p.ClientID {
		t.Errorf("client_id = %q (authorize %q), want %q", body["client_id"], g.clientID, f.p.ClientID)
	}
	if body["redirect_uri"] != g.redirectURI {
		t.Errorf("exchange redirect_uri = %q, want the authorize request's %q", body["redirect_uri"], g.redirectURI)
	}
	if got := oauth2.S256ChallengeFromVerifier(body["code_verifier"]); got != g.challenge {
		t.Errorf("code_verifier's challenge = %q, want the authorize request's %q", got, g.challenge)
	}
	switch f.kind {
	case "claude":
		if body["state"] != g.state {
			t.Errorf("claude exchange state = %q, want %q", body["state"], g.state)
		}
		if wantSetup && body["expires_in"] != "31536000" {
			t.Errorf("setup exchange expires_in = %q, want 31536000", body["expires_in"])
		}
		if !wantSetup && body["expires_in"] != "" {
			t.Errorf("normal exchange sent expires_in %q, want none", body["expires_in"])
		}
	case "codex":
		if _, ok := body["client_secret"]; ok {
			t.Error("codex exchange sent a client_secret, want none")
		}
	case "gemini":
		if body["client_secret"] != f.p.ClientSecret {
			t.Errorf("google exchange client_secret = %q, want the provider's %q", body["client_secret"], f.p.ClientSecret)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	switch f.kind {
	case "claude":
		_, _ = fmt.Fprintf(w, `{"token_type":"Bearer","access_token":%q,"refresh_token":%q,"expires_in":28800,"scope":"user:inference user:profile","account":{"uuid":"acct-uuid-1","email_address":"claude@example.com"},"organization":{"uuid":"org-1","name":"Org"}}`, accessSecret, refreshSecret)
	case "codex":
		idt := unsignedJWT(t, map[string]any{
			"email": "codex@example.com",
			"https://api.openai.com/auth": map[string]any{
				"chatgpt_account_id": "acct-chatgpt-1", "chatgpt_plan_type": "pro", "chatgpt_user_id": "user-1",
			},
		})
		_, _ = fmt.Fprintf(w, `{"id_token":%q,"access_token":%q,"refresh_token":%q,"expires_in":864000}`, idt, accessSecret, refreshSecret)
	case "gemini":
		_, _ = fmt.Fprintf(w, `{"access_token":%q,"expires_in":3599,"refresh_token":%q,"scope":"https://www.googleapis.com/auth/cloud-platform","token_type":"Bearer"}`, accessSecret, refreshSecret)
	}
}

func (f *fakeOAuth) userCode(w http.ResponseWriter, r *http.Request) {
	body := readBody(f.t, r, FormatJSON)
	if body["client_id"] != f.p.ClientID {
		f.t.Errorf("usercode client_id = %q, want %q", body["client_id"], f.p.ClientID)
	}
	_, _ = io.WriteString(w, `{"device_auth_id":"dev-auth-1","user_code":"ABCD-EFGH","interval":"5"}`)
}

func (f *fakeOAuth) devicePoll(w http.ResponseWriter, r *http.Request) {
	body := readBody(f.t, r, FormatJSON)
	if body["device_auth_id"] != "dev-auth-1" || body["user_code"] != "ABCD-EFGH" {
		f.t.Errorf("device poll body = %v, want device_auth_id dev-auth-1, user_code ABCD-EFGH", body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.devicePolls++
	if f.devicePolls <= 2 {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"error":{"message":"pending"}}`)
		return
	}
	verifier := oauth2.GenerateVerifier()
	challenge := oauth2.S256ChallengeFromVerifier(verifier)
	code := "device-code-1"
	f.grants[code] = grant{challenge: challenge, redirectURI: f.p.DeviceRedirectURL, clientID: f.p.ClientID}
	_, _ = fmt.Fprintf(w, `{"authorization_code":%q,"code_challenge":%q,"code_verifier":%q}`, code, challenge, verifier)
}

// newBrowser is the HTTP client standing in for the user's browser.
func newBrowser(t *testing.T, follow bool) *http.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// testContext bounds every wait of a test.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// noSecrets fails if s contains any secret value.
func noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range allSecrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s = %s, want no secret in it", what, s)
		}
	}
}
