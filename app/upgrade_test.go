package app_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"keypool/app"
	"keypool/app/secrets"
	"keypool/app/secrets/secretstest"
	"keypool/app/store"
	"keypool/internal/dirtest"
	"keypool/relay/guard"
	"keypool/relay/relaytest"
)

// oldLayout is a data dir and keychain as Keypool wrote them before entry
// names carried their owner's kind: the store's records, and keychain
// entries "<account>/<field>" and "client-<key id>/api_key", written with
// go-keyring directly as the old code did.
type oldLayout struct {
	accounts []store.Account
	keys     []store.ClientKey
	entries  map[string]string // user name → value
}

func (o oldLayout) write(t *testing.T, k secrets.OS, dbPath string) {
	t.Helper()
	st, err := store.Open(dbPath, store.Options{})
	must(t, err)
	for _, a := range o.accounts {
		must(t, st.PutAccount(a))
	}
	for _, ck := range o.keys {
		must(t, st.PutClientKey(ck))
	}
	must(t, st.Close())
	for user, v := range o.entries {
		must(t, keyring.Set(k.Service, user, v))
	}
}

// realKeychain is the OS keychain under a throwaway service, emptied when
// the test ends; the test is skipped (or fails, under make test) without one.
func realKeychain(t *testing.T) secrets.OS {
	t.Helper()
	k, ok := secretstest.OS(t)
	if !ok {
		t.Skip("no OS keychain here")
	}
	t.Cleanup(func() { keyring.DeleteAll(k.Service) })
	return k
}

// A data dir and keychain written by the version before this one open and
// serve after the upgrade, with nothing lost: the client key still opens the
// relay, each account uses its own key, and the old entries are gone.
func TestUpgradeFromFirstKeychainLayout(t *testing.T) {
	k := realKeychain(t)
	work, login := relaytest.New(), relaytest.New()
	defer work.Close()
	defer login.Close()
	const clientValue = "kp-upgrade-client-secret"
	ck := guard.KeyID(clientValue)
	dir := dirtest.New(t)
	created := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	oldLayout{
		accounts: []store.Account{
			{ID: "work", Type: "claude-api", Priority: 50, Enabled: true, APIURL: work.URL, Created: created},
			{ID: "login", Type: "claude-oauth", Priority: 10, Enabled: true, APIURL: login.URL, Created: created,
				Expiry: time.Now().Add(time.Hour)},
		},
		keys: []store.ClientKey{{ID: ck, Label: "laptop", Created: created}},
		entries: map[string]string{
			"work/api_key":              "sk-ant-upgrade-work",
			"login/refresh_token":       "rt-upgrade-login",
			"login/access_token":        "at-upgrade-login",
			"client-" + ck + "/api_key": clientValue,
		},
	}.write(t, k, filepath.Join(dir, "keypool.db"))

	r := start(t, app.Params{DataDir: dir, Keychain: k})
	if h := health(t, r); h.Blocked != "" || h.Status != "ok" {
		t.Fatalf("after the upgrade: status %q, blocked %q; want ok, not blocked", h.Status, h.Blocked)
	}
	if code, _ := r.postOpen(t); code != 401 {
		t.Errorf("without the client key: %d, want 401", code)
	}
	code, body := r.send(t, map[string]string{"Authorization": "Bearer " + clientValue})
	if code != 200 {
		t.Fatalf("with the client key: %d %s, want 200", code, body)
	}
	if got := work.Requests()[0].Header.Get("X-Api-Key"); got != "sk-ant-upgrade-work" {
		t.Errorf("work's upstream got key %q, want the account's key from the old layout", got)
	}
	must(t, r.Accounts().SetEnabled("work", false))
	r.ReloadAccounts()
	if code, body := r.send(t, map[string]string{"Authorization": "Bearer " + clientValue}); code != 200 {
		t.Fatalf("on the login account: %d %s, want 200", code, body)
	}
	if got := login.Requests()[0].Header.Get("Authorization"); got != "Bearer at-upgrade-login" {
		t.Errorf("login's upstream got %q, want the access token from the old layout", got)
	}
	list, err := r.ClientKeys()
	must(t, err)
	if len(list) != 1 || list[0].Broken != "" {
		t.Errorf("client keys after the upgrade = %+v, want one, not broken", list)
	}
	for _, user := range []string{"work/api_key", "login/refresh_token", "login/access_token", "client-" + ck + "/api_key"} {
		if _, err := keyring.Get(k.Service, user); !errors.Is(err, keyring.ErrNotFound) {
			t.Errorf("old entry %s after the upgrade: Get err = %v, want ErrNotFound", user, err)
		}
	}
	for _, user := range []string{"account:work/api_key", "account:login/refresh_token", "client-key:" + ck + "/api_key"} {
		if _, err := keyring.Get(k.Service, user); err != nil {
			t.Errorf("new entry %s: %v, want it there", user, err)
		}
	}
}

// The collision the old layout allowed: account client-key-X was added after
// client key key-X and its upstream key overwrote the client key's. After
// the upgrade Keypool starts, the account keeps its upstream key, the client
// key is shown as broken with how to fix it, the relay still demands a key,
// and removing the account leaves every other entry alone.
func TestUpgradeAfterCollision(t *testing.T) {
	k := realKeychain(t)
	up := relaytest.New()
	defer up.Close()
	const clientValue = "kp-collided-client-secret"
	ck := guard.KeyID(clientValue)
	collider := "client-" + ck
	dir := dirtest.New(t)
	oldLayout{
		accounts: []store.Account{{ID: collider, Type: "claude-api", Priority: 50, Enabled: true, APIURL: up.URL}},
		keys:     []store.ClientKey{{ID: ck, Label: "laptop"}},
		entries:  map[string]string{collider + "/api_key": "sk-ant-collided-upstream"},
	}.write(t, k, filepath.Join(dir, "keypool.db"))

	r := start(t, app.Params{DataDir: dir, Keychain: k})
	list, err := r.ClientKeys()
	must(t, err)
	if len(list) != 1 || !strings.Contains(list[0].Broken, "remove it") {
		t.Fatalf("client keys = %+v, want %s broken with what to do", list, ck)
	}
	if code, _ := r.postOpen(t); code != 401 {
		t.Errorf("without a working client key: %d, want 401", code)
	}
	if code, _ := r.send(t, map[string]string{"Authorization": "Bearer sk-ant-collided-upstream"}); code != 401 {
		t.Errorf("the upstream key sent as a client key: %d, want 401", code)
	}
	must(t, r.RevokeClientKey(ck))
	if code, body := r.postOpen(t); code != 200 {
		t.Fatalf("request without a key after removing the broken key: %d %s, want 200", code, body)
	}
	if got := up.Requests()[0].Header.Get("X-Api-Key"); got != "sk-ant-collided-upstream" {
		t.Errorf("the account's upstream got %q, want the account's own key", got)
	}
	// A new client key and the account now live apart.
	nk, err := r.AddClientKey("new")
	must(t, err)
	must(t, r.Accounts().Remove(collider))
	if s, err := r.ClientKeySecret(nk.ID); err != nil || s.IsZero() {
		t.Errorf("new client key after removing the account: %v, empty %v; want nil, a key", err, s.IsZero())
	}
}
