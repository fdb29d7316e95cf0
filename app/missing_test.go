package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"keypool/app"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// One missing secret never stops Keypool: an account whose key is gone
// shows needs_key, an OAuth account whose tokens are gone needs_login, each
// with the fix in keypool status, and the rest serve, from the first
// request on (the accounts with missing secrets are never tried).
func TestStartWithMissingSecrets(t *testing.T) {
	keys := testKeychain(t)
	good, gone, login := relaytest.New(), relaytest.New(), relaytest.New()
	defer good.Close()
	defer gone.Close()
	defer login.Close()
	dir := dirtest.New(t)
	p := app.Params{DataDir: dir, Keychain: keys}
	t.Cleanup(func() {
		for _, id := range []string{"good", "gone", "login"} {
			keys.DeleteAll(secrets.Account(id))
		}
	})
	r := start(t, p)
	accts := r.Accounts()
	must(t, accts.Add(store.Account{ID: "good", Type: "claude-api", Priority: 10, Enabled: true, APIURL: good.URL},
		map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New("sk-ant-missing-good")}))
	must(t, accts.Add(store.Account{ID: "gone", Type: "claude-api", Priority: 90, Enabled: true, APIURL: gone.URL},
		map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New("sk-ant-missing-gone")}))
	must(t, accts.Add(store.Account{ID: "login", Type: "claude-oauth", Priority: 80, Enabled: true, APIURL: login.URL},
		map[secrets.Field]secrets.Secret{secrets.RefreshToken: secrets.New("rt-missing-login")}))
	r.stop()
	// Someone deletes entries with a keychain tool.
	must(t, keys.Delete(secrets.Account("gone"), secrets.APIKey))
	must(t, keys.DeleteAll(secrets.Account("login")))

	r2 := start(t, p)
	h := health(t, r2)
	if h.Blocked != "" {
		t.Fatalf("/health blocked: %s, want not blocked", h.Blocked)
	}
	for id, want := range map[string]string{"good": "ready", "gone": "needs_key", "login": "needs_login"} {
		if got := stateOf(r2, id); got != want {
			t.Errorf("%s: state %q, want %q", id, got, want)
		}
	}
	if code, body := r2.postOpen(t); code != 200 {
		t.Fatalf("request: %d %s, want 200", code, body)
	}
	if gone.Count() != 0 || login.Count() != 0 || good.Count() != 1 {
		t.Errorf("upstream calls: good %d, gone %d, login %d; want only good", good.Count(), gone.Count(), login.Count())
	}
	// The key is entered again: the account serves at once.
	must(t, r2.Accounts().Update("gone", func(*store.Account) {}, secrets.New("sk-ant-missing-again"), secrets.Secret{}))
	r2.ReloadAccounts()
	if got := stateOf(r2, "gone"); got != "ready" {
		t.Errorf("state after the key is entered: %q, want ready", got)
	}
	r2.stop()

	must(t, keys.Delete(secrets.Account("gone"), secrets.APIKey))
	var out bytes.Buffer
	p.Keychain = keys
	must(t, app.Status(context.Background(), p, &out))
	for _, want := range []string{"needs_key", "keypool accounts remove gone", "needs_login", "keypool login claude --id login"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status:\n%s\nwant %q in it", out.String(), want)
		}
	}
}

// keypool serve with no accounts says in /health how to add one.
func TestHealthHintWithoutAccounts(t *testing.T) {
	r := start(t, app.Params{DataDir: dirtest.New(t), Keychain: secrets.NewMemory()})
	h := health(t, r)
	if h.Status != "unavailable" || !strings.Contains(h.Hint, "keypool accounts add") || !strings.Contains(h.Hint, "keypool serve --config") {
		t.Errorf("health = status %q, hint %q; want unavailable, naming keypool accounts add and keypool serve --config", h.Status, h.Hint)
	}
}
