package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"keypool/app"
	"keypool/app/secrets"
	"keypool/app/secrets/secretstest"
	"keypool/app/store"
	"keypool/app/tokens"
	"keypool/internal/dirtest"
	"keypool/relay/oauth"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// testKeychain is the real OS keychain under a throwaway service name when
// one is reachable (always under make test), else an in-memory one.
func testKeychain(t *testing.T) secrets.Keychain { return secretstest.Keychain(t) }

// tokenServer is a fake provider: it rotates refresh tokens and can refuse.
type tokenServer struct {
	mu      sync.Mutex
	n       int
	current string
	calls   int
	// loginEnds is when the refresh tokens it hands out stop working, as
	// refresh_token_expires_in says (zero: not said).
	loginEnds time.Time
	// down makes the endpoint unreachable, as with the network down.
	down bool
}

func (s *tokenServer) refresh(_ context.Context, kind pool.Kind, _ *http.Client, rt string) (tokens.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.down {
		return tokens.Token{}, fmt.Errorf("refresh: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	}
	if rt != s.current {
		return tokens.Token{}, fmt.Errorf("refresh: %w", tokens.ErrInvalidGrant)
	}
	s.n++
	s.current = fmt.Sprintf("rt-secret-%d", s.n)
	return tokens.Token{Access: fmt.Sprintf("at-secret-%d", s.n), Refresh: s.current, Expiry: time.Now().Add(8 * time.Hour),
		RefreshExpiry: s.loginEnds}, nil
}

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func startStore(t *testing.T, p app.Params, logs io.Writer) *running {
	t.Helper()
	p.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return start(t, p)
}

// postOpen sends a request with no local key.
func (r *running) postOpen(t *testing.T) (int, string) {
	t.Helper()
	return r.send(t, nil)
}

// Keypool serves its own accounts: metadata in bbolt, secrets in the
// keychain; an OAuth account's rotated refresh token survives a restart; a
// 401 refreshes and retries; a refused refresh token shows as needs_login;
// and no secret reaches the bbolt file or the logs.
func TestServeStoreAccounts(t *testing.T) {
	keys := testKeychain(t)
	sub, key := relaytest.New(), relaytest.New()
	defer sub.Close()
	defer key.Close()
	loginEnds := time.Now().Add(12*24*time.Hour - time.Hour).Round(time.Second)
	ts := &tokenServer{current: "rt-secret-0", loginEnds: loginEnds}
	dir := dirtest.New(t)
	logs := &logBuf{}
	p := app.Params{DataDir: dir, Keychain: keys, RefreshToken: ts.refresh}
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("sub")); keys.DeleteAll(secrets.Account("key")) })

	r := startStore(t, p, logs)
	accts := r.Accounts()
	must(t, accts.Add(store.Account{ID: "sub", Type: "claude-oauth", Priority: 100, Enabled: true, APIURL: sub.URL},
		map[secrets.Field]secrets.Secret{secrets.RefreshToken: secrets.New("rt-secret-0"), secrets.AccessToken: secrets.New("at-secret-0")}))
	must(t, accts.Add(store.Account{ID: "key", Type: "claude-api", Priority: 10, Enabled: true, APIURL: key.URL},
		map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New("sk-ant-secret-key")}))
	r.ReloadAccounts()

	if code, b := r.postOpen(t); code != 200 {
		t.Fatalf("first request: %d %s, want 200", code, b)
	}
	// The access token's age was unknown, so it was refreshed first.
	if got := sub.Requests()[0].Header.Get("Authorization"); got != "Bearer at-secret-1" || ts.calls != 1 {
		t.Fatalf("upstream auth %q after %d refreshes, want the first refresh's token after 1", got, ts.calls)
	}
	// The refresh said when the login ends: kept on the account.
	if a, err := r.Store().Account("sub"); err != nil || !a.LoginExpiry.Equal(loginEnds) || app.LoginEndsText(a, time.Now()) != "login ends in 11 days" {
		t.Errorf("login expiry after the refresh: %v (%v), %q; want %v, login ends in 11 days", a.LoginExpiry, err, app.LoginEndsText(a, time.Now()), loginEnds)
	}
	// A 401 refreshes once and retries on the same account.
	sub.Push(relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "expired")})
	if code, _ := r.postOpen(t); code != 200 || key.Count() != 0 {
		t.Fatalf("after a 401: %d, key account used %d times; want 200, 0 times", code, key.Count())
	}
	if ts.calls != 2 {
		t.Errorf("refreshes = %d, want 2", ts.calls)
	}
	r.stop()

	// Restart: the rotated token (rt-secret-2) is what the keychain holds.
	if s, err := keys.Get(secrets.Account("sub"), secrets.RefreshToken); err != nil || s.Reveal() != "rt-secret-2" {
		t.Fatalf("keychain refresh token after rotation: err %v, rotated twice %v; want nil, true", err, err == nil && s.Reveal() == "rt-secret-2")
	}
	r2 := startStore(t, p, logs)
	if code, _ := r2.postOpen(t); code != 200 {
		t.Fatalf("after restart: %d, want 200", code)
	}
	if got := sub.Requests()[len(sub.Requests())-1].Header.Get("Authorization"); got != "Bearer at-secret-2" {
		t.Errorf("after restart the relay sent %q, want the second refresh's token", got)
	}

	// The provider revokes the login: the account needs login, the request
	// goes to the API key, and the state shows everywhere.
	ts.mu.Lock()
	ts.current = "revoked"
	ts.mu.Unlock()
	sub.Push(relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "revoked")})
	if code, _ := r2.postOpen(t); code != 200 || key.Count() != 1 {
		t.Fatalf("after revocation: %d, key account used %d times; want 200, once", code, key.Count())
	}
	if st := stateOf(r2, "sub"); st != "needs_login" {
		t.Errorf("health state = %q, want needs_login", st)
	}
	if a, _ := r2.Store().Account("sub"); a.Status != store.StatusNeedsLogin {
		t.Errorf("stored status = %q, want %q", a.Status, store.StatusNeedsLogin)
	}
	var out bytes.Buffer
	r2.stop()
	if err := app.Status(context.Background(), p, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "needs_login") {
		t.Errorf("status:\n%s\nwant needs_login in it", out.String())
	}

	for name, content := range map[string]string{"bbolt file": readFile(t, filepath.Join(dir, "keypool.db")), "logs": logs.String(), "status": out.String()} {
		for _, secret := range []string{"rt-secret", "at-secret", "sk-ant-secret"} {
			if strings.Contains(content, secret) {
				t.Errorf("%s contains %q, want no secret", name, secret)
			}
		}
	}
}

func stateOf(r *running, id string) string {
	for _, a := range r.Relay().Health().Accounts {
		if a.ID == id {
			return string(a.State)
		}
	}
	return ""
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Removing an account removes its keychain entries; importing a config
// moves its accounts and secrets in.
func TestImportAndRemove(t *testing.T) {
	keys := testKeychain(t)
	dir := dirtest.New(t)
	cfgPath := writeConfig(t, dir, "http://127.0.0.1:1", "http://127.0.0.1:2")
	st, err := store.Open(filepath.Join(dir, "keypool.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t.Cleanup(func() {
		keys.DeleteAll(secrets.Account("a"))
		keys.DeleteAll(secrets.Account("b"))
		keys.DeleteAll(secrets.Account("g"))
	})
	accts := &app.Accounts{Store: st, Keys: keys}
	cfg, err := app.LoadConfig(app.Params{ConfigPath: cfgPath})
	must(t, err)
	added, skipped, err := app.Import(accts, cfg)
	if err != nil || len(added) != 3 || len(skipped) != 0 {
		t.Fatalf("Import = added %v, skipped %v, %v; want 3 added, none skipped", added, skipped, err)
	}
	if s, err := keys.Get(secrets.Account("a"), secrets.APIKey); err != nil || s.Reveal() != "sk-ant-secret-a" {
		t.Fatalf("imported key of a: err %v, matches %v; want nil, true", err, err == nil && s.Reveal() == "sk-ant-secret-a")
	}
	if s, err := keys.Get(secrets.Account("g"), secrets.RefreshToken); err != nil || s.Reveal() != "google-refresh-secret" {
		t.Fatalf("imported refresh token of g: err %v, matches %v; want nil, true", err, err == nil && s.Reveal() == "google-refresh-secret")
	}
	if _, skipped, _ := app.Import(accts, cfg); len(skipped) != 3 {
		t.Errorf("second import skipped %v, want all 3", skipped)
	}
	must(t, accts.Remove("a"))
	if _, err := keys.Get(secrets.Account("a"), secrets.APIKey); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("keychain Get after remove: %v, want ErrNotFound", err)
	}
	if _, err := st.Account("a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("store Account after remove: %v, want ErrNotFound", err)
	}
	if strings.Contains(readFile(t, filepath.Join(dir, "keypool.db")), "secret") {
		t.Error("the bbolt file holds a secret, want none")
	}
}

// An existing Claude Code or Codex login can be taken over from its
// credential file.
func TestImportCLILogin(t *testing.T) {
	keys := testKeychain(t)
	home := dirtest.New(t)
	os.MkdirAll(filepath.Join(home, ".claude"), 0o700)
	os.WriteFile(filepath.Join(home, ".claude", ".credentials.json"), []byte(`{"claudeAiOauth":{"accessToken":"sk-ant-oat01-cli-secret","refreshToken":"sk-ant-ort01-cli-secret","expiresAt":1893456000000,"scopes":["user:inference"],"subscriptionType":"max"}}`), 0o600)
	os.MkdirAll(filepath.Join(home, ".codex"), 0o700)
	// An unsigned id token whose payload names the ChatGPT account.
	payload := `{"email":"me@example.com","https://api.openai.com/auth":{"chatgpt_account_id":"acc-123","chatgpt_plan_type":"pro"}}`
	idToken := "e30." + strings.TrimRight(base64URL(payload), "=") + ".sig"
	os.WriteFile(filepath.Join(home, ".codex", "auth.json"), []byte(`{"tokens":{"id_token":"`+idToken+`","access_token":"codex-at-secret","refresh_token":"codex-rt-secret","account_id":""}}`), 0o600)

	st, err := store.Open(filepath.Join(dirtest.New(t), "k.db"), store.Options{})
	must(t, err)
	defer st.Close()
	accts := &app.Accounts{Store: st, Keys: keys}
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("claude-1")); keys.DeleteAll(secrets.Account("codex-me")) })

	c, err := app.ImportCLILogin(accts, pool.KindClaudeOAuth, home, "")
	must(t, err)
	if c.ID != "claude-1" || c.PlanType != "max" || c.Expiry.Unix() != 1893456000 {
		t.Errorf("claude account = %+v, want id claude-1, plan max, expiry 1893456000", c)
	}
	if s, err := keys.Get(secrets.Account(c.ID), secrets.RefreshToken); err != nil || s.Reveal() != "sk-ant-ort01-cli-secret" {
		t.Errorf("claude refresh token: err %v, matches %v; want nil, true", err, err == nil && s.Reveal() == "sk-ant-ort01-cli-secret")
	}
	x, err := app.ImportCLILogin(accts, pool.KindCodexOAuth, home, "")
	must(t, err)
	if x.ID != "codex-me" || x.AccountID != "acc-123" || x.Email != "me@example.com" || x.PlanType != "pro" {
		t.Errorf("codex account = %+v, want id codex-me, account acc-123, email me@example.com, plan pro", x)
	}
	if _, err := app.ImportCLILogin(accts, pool.KindGemini, home, ""); !errors.Is(err, oauth.ErrNoCLILogin) {
		t.Errorf("ImportCLILogin(gemini): err = %v, want oauth.ErrNoCLILogin (the Gemini CLI's login is not taken over)", err)
	}
	if _, err := app.ImportCLILogin(accts, pool.KindClaudeAPI, home, ""); err == nil {
		t.Error("ImportCLILogin(claude-api): err = nil, want an error (an API key has no login)")
	}
}

func base64URL(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// 100 requests arriving together on an OAuth account whose token has
// expired cause exactly one refresh, and all of them are served.
func TestConcurrentRequestsOneRefresh(t *testing.T) {
	keys := testKeychain(t)
	up := relaytest.New()
	defer up.Close()
	gate := make(chan struct{})
	ts := &tokenServer{current: "rt-secret-0"}
	slow := func(ctx context.Context, kind pool.Kind, c *http.Client, rt string) (tokens.Token, error) {
		<-gate
		return ts.refresh(ctx, kind, c, rt)
	}
	p := app.Params{DataDir: dirtest.New(t), Keychain: keys, RefreshToken: slow}
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("sub")) })
	r := startStore(t, p, io.Discard)
	must(t, r.Accounts().Add(store.Account{ID: "sub", Type: "claude-oauth", Enabled: true, APIURL: up.URL,
		Expiry: time.Now().Add(-time.Minute)},
		map[secrets.Field]secrets.Secret{secrets.RefreshToken: secrets.New("rt-secret-0"), secrets.AccessToken: secrets.New("at-secret-0")}))
	r.ReloadAccounts()

	var wg sync.WaitGroup
	codes := make(chan int, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(r.URL()+"/v1/messages", "application/json",
				strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
			if err != nil {
				codes <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	// Open the gate only once every request waits for the one refresh, so
	// none can be served by a token refreshed before it arrived.
	const waiting = "keypool/app/tokens.(*Manager).refresh"
	if !waitFor(10*time.Second, func() bool { return goroutinesIn(waiting) >= 100 }) {
		close(gate)
		t.Fatalf("after 10 s, %d requests wait in %s, want 100", goroutinesIn(waiting), waiting)
	}
	close(gate)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("a request got %d, want 200", c)
		}
	}
	if ts.calls != 1 {
		t.Errorf("%d refreshes for 100 concurrent requests, want 1", ts.calls)
	}
	for _, req := range up.Requests() {
		if req.Header.Get("Authorization") != "Bearer at-secret-1" {
			t.Fatalf("a request went out with %q, want Bearer at-secret-1", req.Header.Get("Authorization"))
		}
	}
}

// A seed config's claude-oauth account (refresh_token inline) is served:
// the token is refreshed on first use and sent as a bearer token.
func TestConfigOAuthAccount(t *testing.T) {
	up := relaytest.New()
	defer up.Close()
	dir := dirtest.New(t)
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("api_keys = []\n[[accounts]]\ntype = \"claude-oauth\"\nid = \"sub\"\nrefresh_token = \"rt-secret-0\"\napi_url = %q\n", up.URL)), 0o600)
	ts := &tokenServer{current: "rt-secret-0"}
	logs := &logBuf{}
	r := startStore(t, app.Params{ConfigPath: cfg, DataDir: dir, RefreshToken: ts.refresh}, logs)
	if code, b := r.postOpen(t); code != 200 {
		t.Fatalf("request: %d %s, want 200", code, b)
	}
	if got := up.Requests()[0].Header.Get("Authorization"); got != "Bearer at-secret-1" {
		t.Errorf("authorization = %q, want the first refresh's token", got)
	}
	if !strings.Contains(logs.String(), "keypool import") {
		t.Errorf("log without \"keypool import\", want a warning that the rotated token is kept in memory only:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "secret") {
		t.Error("the logs hold a secret, want none")
	}
}

// flakyKeychain refuses the first write of a refresh token, like a keyring
// that was locked for a moment.
type flakyKeychain struct {
	secrets.Keychain
	mu     sync.Mutex
	failed bool
}

func (k *flakyKeychain) Set(o secrets.Owner, f secrets.Field, s secrets.Secret) error {
	k.mu.Lock()
	fail := f == secrets.RefreshToken && !k.failed
	if fail {
		k.failed = true
	}
	k.mu.Unlock()
	if fail {
		return fmt.Errorf("keychain set: %w: the keyring is locked", secrets.ErrUnavailable)
	}
	return k.Keychain.Set(o, f, s)
}

// testClock is a settable clock for the app.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Regressions from review: a rotated token the keychain refused survives
// account reloads and is saved before anything else; "needs login" sticks
// across reloads (the refused token is not sent again); a new login brings
// the account back at once.
func TestTokenStateAcrossReloads(t *testing.T) {
	base := testKeychain(t)
	keys := &flakyKeychain{Keychain: base, failed: true}
	sub, key := relaytest.New(), relaytest.New()
	defer sub.Close()
	defer key.Close()
	ts := &tokenServer{current: "rt-secret-0"}
	clock := &testClock{t: time.Now()}
	p := app.Params{DataDir: dirtest.New(t), Keychain: keys, RefreshToken: ts.refresh, Now: clock.Now}
	t.Cleanup(func() { base.DeleteAll(secrets.Account("sub")); base.DeleteAll(secrets.Account("key")) })
	r := startStore(t, p, io.Discard)
	must(t, r.Accounts().Add(store.Account{ID: "sub", Type: "claude-oauth", Priority: 10, Enabled: true, APIURL: sub.URL, Expiry: clock.Now().Add(-time.Minute)},
		map[secrets.Field]secrets.Secret{secrets.RefreshToken: secrets.New("rt-secret-0"), secrets.AccessToken: secrets.New("at-secret-0")}))
	must(t, r.Accounts().Add(store.Account{ID: "key", Type: "claude-api", Priority: 1, Enabled: true, APIURL: key.URL},
		map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New("sk-ant-secret-key")}))
	keys.mu.Lock()
	keys.failed = false // the next refresh-token write fails
	keys.mu.Unlock()
	r.ReloadAccounts()

	// The refresh rotates to rt-secret-1 but the keychain refuses it: the
	// request goes to the key account and the new token is held.
	if code, _ := r.post(t, "s1"); code != 200 || sub.Count() != 0 {
		t.Fatalf("first request: %d, sub used %d times; want 200, 0 times", code, sub.Count())
	}
	r.ReloadAccounts()
	r.ReloadAccounts()
	clock.Add(time.Minute) // past the account's short cooldown
	if code, _ := r.post(t, "s2"); code != 200 || sub.Count() != 1 {
		t.Fatalf("second request: %d, sub used %d times; want 200, once", code, sub.Count())
	}
	if ts.calls != 1 {
		t.Errorf("refresh calls = %d, want 1: the held token was lost and the burnt one sent again", ts.calls)
	}
	if s, _ := base.Get(secrets.Account("sub"), secrets.RefreshToken); s.Reveal() != "rt-secret-1" {
		t.Errorf("keychain holds a refresh token of %d bytes, not the rotated one; want the rotated one", len(s.Reveal()))
	}

	// Revoked: needs login, and reloads do not bring the refused token back
	// to the provider.
	ts.mu.Lock()
	ts.current = "revoked"
	ts.mu.Unlock()
	sub.Push(relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "revoked")})
	r.post(t, "s3")
	calls := ts.calls
	for range 3 {
		r.ReloadAccounts()
		clock.Add(2 * time.Hour)
		r.post(t, "s4")
	}
	if ts.calls != calls {
		t.Errorf("refresh calls = %d after reloads, want still %d: the refused refresh token was sent again", ts.calls, calls)
	}
	if st := stateOf(r, "sub"); st != "needs_login" {
		t.Errorf("state = %s, want needs_login", st)
	}
	// A new login (here: new tokens saved as the control socket does) brings
	// the account back at once.
	ts.mu.Lock()
	ts.current = "rt-secret-new"
	ts.mu.Unlock()
	must(t, r.Accounts().SaveLogin(store.Account{ID: "sub", Type: "claude-oauth", Expiry: clock.Now().Add(8 * time.Hour)},
		map[secrets.Field]secrets.Secret{secrets.RefreshToken: secrets.New("rt-secret-new"), secrets.AccessToken: secrets.New("at-secret-new")}))
	r.ResetTokens("sub")
	r.ReloadAccounts()
	if st := stateOf(r, "sub"); st != "ready" {
		t.Errorf("after a new login: state %s, want ready", st)
	}
	before := sub.Count()
	if code, _ := r.post(t, "s5"); code != 200 || sub.Count() != before+1 {
		t.Errorf("after a new login: %d, sub used %d→%d times; want 200, %d→%d", code, before, sub.Count(), before, before+1)
	}
}

// Editing an account changes its settings and, when given, its key; the
// proxy test reaches a target through an HTTP proxy.
func TestUpdateAccountAndProxyTest(t *testing.T) {
	keys := testKeychain(t)
	st, err := store.Open(filepath.Join(dirtest.New(t), "k.db"), store.Options{})
	must(t, err)
	defer st.Close()
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("e")) })
	accts := &app.Accounts{Store: st, Keys: keys}
	must(t, accts.Add(store.Account{ID: "e", Type: "claude-api", Enabled: true}, map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New("old-key")}))
	must(t, accts.Update("e", func(a *store.Account) { a.Priority = 9; a.Models = []string{"claude-*"}; a.ID = "hijack" }, secrets.New("new-key"), secrets.Secret{}))
	a, err := st.Account("e")
	if err != nil || a.Priority != 9 || len(a.Models) != 1 {
		t.Fatalf("after update: %+v, %v; want priority 9, one model pattern", a, err)
	}
	if s, _ := keys.Get(secrets.Account("e"), secrets.APIKey); s.Reveal() != "new-key" {
		t.Error("the keychain holds the old key after Update, want the new key")
	}
	if err := accts.Update("e", func(a *store.Account) { a.AuthHeader = "basic" }, secrets.Secret{}, secrets.Secret{}); err == nil {
		t.Error("Update with auth header \"basic\": err = nil, want an error")
	}

	target := relaytest.New()
	defer target.Close()
	proxied := 0
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxied++
		w.WriteHeader(http.StatusOK)
	}))
	defer proxy.Close()
	host, port, _ := net.SplitHostPort(proxy.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	if err := app.TestProxy(context.Background(), &store.Proxy{Type: "http", Host: host, Port: p}, "", target.URL); err != nil || proxied != 1 {
		t.Errorf("TestProxy through an HTTP proxy: %v, proxied %d; want nil, 1", err, proxied)
	}
	if err := app.TestProxy(context.Background(), &store.Proxy{Type: "socks5", Host: "127.0.0.1", Port: hangingUpPort(t)}, "", target.URL); err == nil {
		t.Error("TestProxy through a dead proxy: err = nil, want an error")
	}
}

// A refresh that fails because the network is down leaves the login alone:
// the account rests briefly, never shows "needs login", and the refresh is
// tried again; a refresh the provider refuses (invalid_grant) shows "needs
// login" at once.
func TestRefreshNetworkErrorIsNotNeedsLogin(t *testing.T) {
	keys := testKeychain(t)
	sub, key := relaytest.New(), relaytest.New()
	defer sub.Close()
	defer key.Close()
	ts := &tokenServer{current: "rt-secret-0", down: true}
	p := app.Params{DataDir: dirtest.New(t), Keychain: keys, RefreshToken: ts.refresh}
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("sub")); keys.DeleteAll(secrets.Account("key")) })
	r := startStore(t, p, io.Discard)
	must(t, r.Accounts().Add(store.Account{ID: "sub", Type: "claude-oauth", Priority: 100, Enabled: true, APIURL: sub.URL,
		Expiry: time.Now().Add(-time.Minute)},
		map[secrets.Field]secrets.Secret{secrets.RefreshToken: secrets.New("rt-secret-0"), secrets.AccessToken: secrets.New("at-secret-0")}))
	must(t, r.Accounts().Add(store.Account{ID: "key", Type: "claude-api", Priority: 10, Enabled: true, APIURL: key.URL},
		map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New("sk-ant-secret-key")}))
	r.ReloadAccounts()

	if code, _ := r.postOpen(t); code != 200 || key.Count() != 1 || sub.Count() != 0 {
		t.Fatalf("with the token endpoint down: %d, key %d, sub %d; want the key to serve", code, key.Count(), sub.Count())
	}
	if st := stateOf(r, "sub"); st == "needs_login" {
		t.Errorf("after a network error the state is %q, want anything but needs_login", st)
	}
	if a, _ := r.Store().Account("sub"); a.Status == store.StatusNeedsLogin {
		t.Error("after a network error the stored status is needs_login")
	}
	// The network is back: the refresh is tried again and the plan serves.
	ts.mu.Lock()
	ts.down = false
	ts.mu.Unlock()
	r.Relay().ClearCooldowns("sub")
	// A new conversation: the first one stays bound to the key.
	if code, _ := r.send(t, map[string]string{"X-Claude-Code-Session-Id": "11111111-0000-0000-0000-000000000002"}); code != 200 || sub.Count() != 1 {
		t.Fatalf("with the network back: %d, sub %d, refresh calls %d; want sub to serve", code, sub.Count(), ts.calls)
	}
	// The provider refuses the login: needs login at once.
	ts.mu.Lock()
	ts.current = "revoked"
	ts.mu.Unlock()
	sub.Push(relaytest.Reply{Status: 401, Body: relaytest.Error("authentication_error", "revoked")})
	if code, _ := r.send(t, map[string]string{"X-Claude-Code-Session-Id": "11111111-0000-0000-0000-000000000002"}); code != 200 {
		t.Fatalf("after revocation: %d", code)
	}
	if st := stateOf(r, "sub"); st != "needs_login" {
		t.Errorf("after invalid_grant the state is %q, want needs_login", st)
	}
}

// keypool status lists a login that ends within a week among the things
// to do, with the command that renews it, running or not.
func TestStatusSaysWhenALoginEnds(t *testing.T) {
	keys := testKeychain(t)
	up := relaytest.New()
	defer up.Close()
	p := app.Params{DataDir: dirtest.New(t), Keychain: keys, RefreshToken: offlineRefresh}
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("max")) })
	r := startStore(t, p, io.Discard)
	ends := time.Now().Add(3*24*time.Hour + time.Hour)
	must(t, r.Accounts().Add(store.Account{ID: "max", Type: "claude-oauth", Enabled: true, APIURL: up.URL, LoginExpiry: ends,
		Expiry: time.Now().Add(time.Hour)}, map[secrets.Field]secrets.Secret{secrets.AccessToken: secrets.New("sk-ant-oat01-status-secret")}))
	r.ReloadAccounts()
	want := "max: login ends in 3 days (" + ends.Local().Format("Mon 2 Jan 15:04") + "): log in again before then: keypool login claude --id max."
	for _, running := range []bool{true, false} {
		if !running {
			r.stop()
		}
		var out bytes.Buffer
		if err := app.Status(context.Background(), p, &out); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("status (running %v):\n%s\nwant %q", running, out.String(), want)
		}
	}
}

// Without a window, what it would notify goes to the log once: here, a
// login about to end.
func TestAlertsInTheLogWithoutAWindow(t *testing.T) {
	keys := testKeychain(t)
	up := relaytest.New()
	defer up.Close()
	dir := dirtest.New(t)
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("max")) })
	first := startStore(t, app.Params{DataDir: dir, Keychain: keys, RefreshToken: offlineRefresh}, io.Discard)
	must(t, first.Accounts().Add(store.Account{ID: "max", Name: "Max", Type: "claude-oauth", Enabled: true, APIURL: up.URL,
		LoginExpiry: time.Now().Add(20 * time.Hour), Expiry: time.Now().Add(time.Hour)},
		map[secrets.Field]secrets.Secret{secrets.AccessToken: secrets.New("sk-ant-oat01-alert-secret")}))
	first.stop()
	logs := &logBuf{}
	r := startStore(t, app.Params{DataDir: dir, Keychain: keys, RefreshToken: offlineRefresh, LogAlerts: true}, logs)
	if !waitFor(3*time.Second, func() bool { return strings.Contains(logs.String(), "a login ends soon: Max: login ends in 20 h") }) {
		t.Errorf("log without the login warning:\n%s", logs.String())
	}
	r.stop()
	if n := strings.Count(logs.String(), "a login ends soon"); n != 1 {
		t.Errorf("the warning was logged %d times, want once", n)
	}
}
