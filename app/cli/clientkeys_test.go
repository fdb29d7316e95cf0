package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"keypool/app"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// keypool client-keys list|add|remove: on the store while no relay runs,
// through the control socket while one does (the relay then demands the key
// at once); a key whose secret is gone shows as broken and can be removed.
func TestClientKeysCommand(t *testing.T) {
	keys := cliKeychain(t)
	dir := dirtest.New(t)
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append(args, "--data-dir", dir), strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}
	keyValue := regexp.MustCompile(`(?m)^kp-\S+$`)
	keyID := regexp.MustCompile(`key-[0-9a-f]{8}`)

	out, err := cli("client-keys", "list")
	if err != nil || !strings.Contains(out, "No client keys") {
		t.Fatalf("list with none: %q, %v; want \"No client keys\", nil", out, err)
	}
	out, err = cli("client-keys", "add", "--name", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	value, id := keyValue.FindString(out), keyID.FindString(out)
	if value == "" || id == "" {
		t.Fatalf("add printed %q: want the key's id and its value", out)
	}
	t.Cleanup(func() { keys.DeleteAll(secrets.ClientKey(id)) })
	if s, err := keys.Get(secrets.ClientKey(id), secrets.APIKey); err != nil || s.Reveal() != value {
		t.Fatalf("keychain Get(%s): err %v, the printed key %v; want nil, true", id, err, err == nil && s.Reveal() == value)
	}
	if out, _ := cli("client-keys", "list"); !strings.Contains(out, id) || !strings.Contains(out, "laptop") || !strings.Contains(out, "ok") {
		t.Errorf("list = %q, want %s, laptop, ok", out, id)
	}

	// A relay on the data dir: the commands go through its socket.
	up := relaytest.New()
	defer up.Close()
	a := startRelay(t, dir, keys)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.Accounts().Add(store.Account{ID: "live", Type: "claude-api", Priority: 10, Enabled: true, APIURL: up.URL}, map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New("sk-ant-ck-upstream")}))
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("live")) })
	a.ReloadAccounts()
	post := func(key string) int {
		req, _ := http.NewRequest("POST", a.URL()+"/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != http.StatusUnauthorized {
		t.Errorf("request without a key: %d, want 401", code)
	}
	if code := post(value); code != 200 {
		t.Errorf("request with the key: %d, want 200", code)
	}
	out, err = cli("client-keys", "add", "--name", "desktop")
	must(err)
	value2, id2 := keyValue.FindString(out), keyID.FindString(out)
	t.Cleanup(func() { keys.DeleteAll(secrets.ClientKey(id2)) })
	if code := post(value2); code != 200 {
		t.Errorf("request with a key added through the socket: %d (%q), want 200", code, out)
	}
	// The first key's secret disappears: it is listed as broken with the
	// fix, status says so too, and it can be removed.
	must(keys.Delete(secrets.ClientKey(id), secrets.APIKey))
	out, err = cli("client-keys", "list")
	must(err)
	if !strings.Contains(out, "BROKEN") || !strings.Contains(out, "keypool client-keys remove "+id) {
		t.Errorf("list after the secret went: %q, want it BROKEN with \"keypool client-keys remove %s\"", out, id)
	}
	out, err = cli("env", "claude")
	must(err)
	if !strings.Contains(out, value2) {
		t.Errorf("keypool env claude:\n%s\nwant the working key, not the broken one", out)
	}
	out, err = cli("status")
	must(err)
	if !strings.Contains(out, id) || !strings.Contains(out, "BROKEN") {
		t.Errorf("status:\n%s\nwant %s shown BROKEN", out, id)
	}
	for _, k := range []string{id, id2} {
		if _, err := cli("client-keys", "remove", k); err != nil {
			t.Fatalf("remove %s: %v, want nil", k, err)
		}
	}
	if code := post(value2); code != 200 {
		t.Errorf("request with no client keys left: %d, want 200 (the relay open to local programs again)", code)
	}
	if _, err := cli("client-keys", "remove", id); err == nil || !strings.Contains(err.Error(), "no such client key") {
		t.Errorf("removing a key twice: %v, want \"no such client key\"", err)
	}
	if _, err := cli("client-keys", "frobnicate"); err == nil || !strings.Contains(err.Error(), "list | add") {
		t.Errorf("unknown subcommand: %v, want the usage (list | add …)", err)
	}
}

// newListener is a listener on 127.0.0.1:0 to hand the relay
// (app.Params.Listener): the kernel picks the port, and nothing can take it
// before the relay serves there. The cleanup closes it if Open never did.
func newListener(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// startRelay opens and runs the app on dir until the test ends, as a running
// Keypool that the commands reach through its control socket.
func startRelay(t *testing.T, dir string, keys secrets.Keychain) *app.App {
	t.Helper()
	a, err := app.Open(app.Params{DataDir: dir, Listener: newListener(t), Keychain: keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	return a
}
