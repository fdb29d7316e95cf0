package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"keypool/app"
	"keypool/app/secrets"
	"keypool/app/secrets/secretstest"
	"keypool/app/store"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// lockableKeychain refuses everything while locked, as a locked login
// keyring does, and reports its state without prompting, as secrets.OS does
// on Linux.
type lockableKeychain struct {
	secrets.Keychain
	locked  atomic.Bool
	blind   bool // Locked fails, as where the state cannot be read
	missing atomic.Bool
}

func (k *lockableKeychain) refused() error {
	return fmt.Errorf("keychain: %w: the keyring is locked: unlock your login keyring", secrets.ErrUnavailable)
}

func (k *lockableKeychain) Check() error {
	if k.locked.Load() {
		return k.refused()
	}
	return nil
}

func (k *lockableKeychain) Get(o secrets.Owner, f secrets.Field) (secrets.Secret, error) {
	if k.locked.Load() {
		return secrets.Secret{}, k.refused()
	}
	if k.missing.Load() && o == secrets.ClientKey(o.ID()) {
		return secrets.Secret{}, fmt.Errorf("keychain get %s: %w", o, secrets.ErrNotFound)
	}
	return k.Keychain.Get(o, f)
}

func (k *lockableKeychain) Locked() (bool, error) {
	if k.blind {
		return false, fmt.Errorf("keychain state: %w: no such collection", secrets.ErrUnavailable)
	}
	return k.locked.Load(), nil
}

// lockedAtStart: Keypool starts while its keychain is locked. It starts,
// refuses every API request with a 503 that says why (even one without a
// client key: the keys are in the keychain), and once the keychain is
// unlocked it serves, requiring the client key again, without a restart.
func lockedAtStart(t *testing.T, keys secrets.Keychain, lock, unlock func()) {
	up := relaytest.New()
	defer up.Close()
	p := app.Params{DataDir: dirtest.New(t), Keychain: keys}
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("a")) })

	r := start(t, p)
	must(t, r.Accounts().Add(store.Account{ID: "a", Type: "claude-api", Priority: 10, Enabled: true, APIURL: up.URL},
		map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New("sk-ant-secret-locked")}))
	ck, err := r.AddClientKey("cli")
	must(t, err)
	value, err := r.ClientKeySecret(ck.ID)
	must(t, err)
	r.stop()

	lock()
	logs := &logBuf{}
	r2 := startStore(t, p, logs)
	withKey := map[string]string{"Authorization": "Bearer " + value.Reveal()}
	for name, hdr := range map[string]map[string]string{"with the client key": withKey, "without a key": nil} {
		code, body := r2.send(t, hdr)
		if code != 503 || !strings.Contains(body, `"type":"error"`) || !strings.Contains(body, "keychain") || !strings.Contains(body, "unlock") {
			t.Errorf("request %s while the keychain is locked: %d %s, want a 503 error that says to unlock the keychain", name, code, body)
		}
	}
	if up.Count() != 0 {
		t.Errorf("the upstream was called %d times while the keychain was locked, want 0", up.Count())
	}
	if h := health(t, r2); h.Blocked == "" || h.Status != "unavailable" {
		t.Errorf("/health while locked: status %q, blocked %q; want unavailable, and why", h.Status, h.Blocked)
	}

	unlock()
	var (
		code int
		body string
	)
	if !waitFor(20*time.Second, func() bool { code, body = r2.send(t, withKey); return code == 200 }) {
		t.Fatalf("20 s after the keychain was unlocked: %d %s, want 200", code, body)
	}
	if code, _ := r2.postOpen(t); code != 401 {
		t.Errorf("request without a key after the unlock: %d, want 401", code)
	}
	if h := health(t, r2); h.Blocked != "" {
		t.Errorf("/health after the unlock: blocked %q, want \"\"", h.Blocked)
	}
	if !strings.Contains(logs.String(), "keychain readable again") {
		t.Errorf("log:\n%s\nwant \"keychain readable again\" in it", logs.String())
	}
	for name, secret := range map[string]string{"the account's key": "sk-ant-secret-locked", "the client key": value.Reveal()} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs hold %s, want no secret in them", name)
		}
	}
}

func TestKeychainLockedAtStart(t *testing.T) {
	keys := &lockableKeychain{Keychain: secrets.NewMemory()}
	lockedAtStart(t, keys, func() { keys.locked.Store(true) }, func() { keys.locked.Store(false) })
}

// The same with GNOME Keyring, really locked and unlocked over D-Bus, in a
// keyring session of the test's own.
func TestRealKeychainLockedAtStart(t *testing.T) {
	secretstest.RunPrivate(t, func(t *testing.T) {
		keys, ok := secretstest.OS(t)
		if !ok {
			t.Fatal("secretstest.OS: no keychain in the private session, want one")
		}
		lockedAtStart(t, keys, func() { secretstest.Lock(t) }, func() { secretstest.Unlock(t) })
	})
}

// Where the keychain's state cannot be read, Keypool tries the keychain
// itself now and then, and resumes all the same.
func TestKeychainLockedAtStartNoPeek(t *testing.T) {
	t.Cleanup(app.SetKeychainRetry(time.Second)) // runs after the app stops
	keys := &lockableKeychain{Keychain: secrets.NewMemory(), blind: true}
	lockedAtStart(t, keys, func() { keys.locked.Store(true) }, func() { keys.locked.Store(false) })
}

// The keychain opens but a client key's entry is gone: Keypool serves, the
// key is shown as broken (with what to do) and left out, and the relay still
// demands a key (it cannot tell that key's holder from anyone else), until
// the broken key is removed.
func TestKeychainUnlockedButClientKeyMissing(t *testing.T) {
	t.Cleanup(app.SetKeychainRetry(time.Second)) // runs after the app stops
	keys := &lockableKeychain{Keychain: secrets.NewMemory()}
	up := relaytest.New()
	defer up.Close()
	p := app.Params{DataDir: dirtest.New(t), Keychain: keys}
	r := start(t, p)
	must(t, r.Accounts().Add(store.Account{ID: "a", Type: "claude-api", Priority: 10, Enabled: true, APIURL: up.URL},
		map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New("sk-ant-secret-locked")}))
	ck, err := r.AddClientKey("cli")
	must(t, err)
	r.stop()

	keys.locked.Store(true)
	logs := &logBuf{}
	r2 := startStore(t, p, logs)
	keys.missing.Store(true)
	keys.locked.Store(false)
	var blocked string
	if !waitFor(10*time.Second, func() bool { blocked = health(t, r2).Blocked; return blocked == "" }) {
		t.Fatalf("/health 10 s after the unlock: blocked %q, want \"\"", blocked)
	}
	list, err := r2.ClientKeys()
	must(t, err)
	if len(list) != 1 || list[0].ID != ck.ID || !strings.Contains(list[0].Broken, "remove it") {
		t.Fatalf("client keys = %+v, want %s marked broken with what to do", list, ck.ID)
	}
	if code, _ := r2.postOpen(t); code != http.StatusUnauthorized {
		t.Errorf("request without a key while the only client key is broken: %d, want 401", code)
	}
	if up.Count() != 0 {
		t.Errorf("the upstream was called %d times without a working client key, want 0", up.Count())
	}
	must(t, r2.RevokeClientKey(ck.ID))
	if code, body := r2.postOpen(t); code != 200 {
		t.Errorf("request without a key after removing the broken key: %d %s, want 200", code, body)
	}
}
