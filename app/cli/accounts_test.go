package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keypool/app"
	"keypool/app/secrets"
	"keypool/app/secrets/secretstest"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// cliKeychain points the commands at a throwaway keychain service, skipping
// where no Secret Service runs (never under make test).
func cliKeychain(t *testing.T) secrets.OS {
	t.Helper()
	k, ok := secretstest.OS(t)
	if !ok {
		t.Skip("no keychain")
	}
	t.Setenv("KEYPOOL_KEYCHAIN_SERVICE", k.Service)
	return k
}

func TestAccountsCommands(t *testing.T) {
	keys := cliKeychain(t)
	dir := dirtest.New(t)
	run1 := func(stdin string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(args, "--data-dir", dir), strings.NewReader(stdin), &out, &errOut)
		return out.String(), err
	}
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("mirror")); keys.DeleteAll(secrets.Account("main")) })

	if _, err := run1("sk-ant-cli-secret\nproxy-secret\n", "accounts", "add", "--id", "mirror", "--priority", "5",
		"--api-url", "https://mirror.example/api/", "--auth-header", "bearer", "--proxy", "socks5://me@127.0.0.1:1080",
		"--models", "claude-sonnet-*, claude-haiku-*"); err != nil {
		t.Fatal(err)
	}
	if s, err := keys.Get(secrets.Account("mirror"), secrets.APIKey); err != nil || s.Reveal() != "sk-ant-cli-secret" {
		t.Fatalf("api key in keychain: err %v, the typed one %v; want nil, true", err, err == nil && s.Reveal() == "sk-ant-cli-secret")
	}
	if s, err := keys.Get(secrets.Account("mirror"), secrets.ProxyPassword); err != nil || s.Reveal() != "proxy-secret" {
		t.Fatalf("proxy password in keychain: err %v, the typed one %v; want nil, true", err, err == nil && s.Reveal() == "proxy-secret")
	}
	if _, err := run1("x\n", "accounts", "add", "--id", "mirror"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("duplicate add: %v, want an error saying it exists", err)
	}
	if _, err := run1("", "accounts", "add", "--id", "nokey"); err == nil {
		t.Error("add without a key: err = nil, want an error")
	}
	if _, err := run1("x\n", "accounts", "add", "--id", "p", "--proxy", "socks5://me:pw@h:1"); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("add with a password in the proxy URL: %v, want an error that does not show it", err)
	}

	cfg := filepath.Join(dirtest.New(t), "config.toml")
	os.WriteFile(cfg, []byte("api_keys = []\n[[accounts]]\ntype = \"claude-api\"\nid = \"main\"\napi_key = \"sk-ant-imported-secret\"\n"), 0o600)
	if out, err := run1("", "import", cfg); err != nil || !strings.Contains(out, "imported main") {
		t.Fatalf("import: %q, %v; want \"imported main\", nil", out, err)
	}
	// Paid extra usage: only a subscription has it, off unless asked for.
	if _, err := run1("x\n", "accounts", "add", "--id", "key2", "--allow-overage"); err == nil || !strings.Contains(err.Error(), "no paid extra usage") {
		t.Errorf("add an API key with --allow-overage: %v, want an error saying it has none", err)
	}
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("max")) })
	if _, err := run1("sk-ant-oat01-setup-secret\n", "accounts", "add", "--id", "max", "--type", "claude-oauth", "--allow-overage"); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		args  []string
		want  bool
		wantE string
	}{
		{[]string{"max"}, true, ""}, // as added
		{[]string{"set", "max", "--allow-overage=false"}, false, ""},
		{[]string{"set", "max", "--allow-overage"}, true, ""},
		{[]string{"set", "main", "--allow-overage=true"}, false, "no paid extra usage"},
		{[]string{"set", "max"}, true, "--allow-overage=true|false"},
	} {
		var err error
		if step.args[0] == "set" {
			_, err = run1("", append([]string{"accounts"}, step.args...)...)
		}
		if step.wantE == "" && err != nil || step.wantE != "" && (err == nil || !strings.Contains(err.Error(), step.wantE)) {
			t.Errorf("%v: err %v, want %q", step.args, err, step.wantE)
		}
		if step.args[0] == "set" && step.args[1] != "max" {
			continue
		}
		accts, done, err := app.OpenAccounts(app.Params{DataDir: dir, Keychain: app.UserKeychain()})
		if err != nil {
			t.Fatal(err)
		}
		acct, err := accts.Account("max")
		done()
		if err != nil || acct.AllowOverage != step.want {
			t.Errorf("after %v: allow_overage %v (%v), want %v", step.args, acct.AllowOverage, err, step.want)
		}
	}
	if _, err := run1("", "accounts", "disable", "main"); err != nil {
		t.Fatal(err)
	}
	out, err := run1("", "accounts", "list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "mirror") || !strings.Contains(out, "disabled") {
		t.Errorf("list:\n%s\nwant mirror, and main disabled", out)
	}
	if out, err := run1("", "accounts", "reset", "main"); err != nil || !strings.Contains(out, "not running") {
		t.Errorf("reset with no relay running: %q, %v; want it to say Keypool is not running, nil", out, err)
	}
	if _, err := run1("", "accounts", "reset", "nope"); err == nil {
		t.Error("reset of a missing account: err = nil, want an error")
	}
	if _, err := run1("", "accounts", "remove", "mirror"); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Get(secrets.Account("mirror"), secrets.APIKey); err == nil {
		t.Error("removed account's key: Get err = nil, want it gone from the keychain")
	}
	db, _ := os.ReadFile(filepath.Join(dir, "keypool.db"))
	for _, s := range []string{"sk-ant-cli-secret", "proxy-secret", "sk-ant-imported-secret"} {
		if bytes.Contains(db, []byte(s)) || strings.Contains(out, s) {
			t.Errorf("secret %q in the bbolt file or the output, want it only in the keychain", s)
		}
	}
}

// While a relay runs on the data dir, the account commands change its
// accounts through the control socket and it serves them at once.
func TestAccountsCommandsWhileRunning(t *testing.T) {
	keys := cliKeychain(t)
	dir := dirtest.New(t)
	up := relaytest.New()
	defer up.Close()
	a := startRelay(t, dir, keys)
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("live")) })

	cli := func(stdin string, args ...string) error {
		var out, errOut bytes.Buffer
		return run(context.Background(), append(args, "--data-dir", dir), strings.NewReader(stdin), &out, &errOut)
	}
	post := func() int {
		resp, err := http.Post(a.URL()+"/v1/messages", "application/json",
			strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != http.StatusServiceUnavailable {
		t.Fatalf("request with no accounts yet: %d, want 503", code)
	}
	if err := cli("sk-ant-live-secret\n", "accounts", "add", "--id", "live", "--api-url", up.URL); err != nil {
		t.Fatal(err)
	}
	if code := post(); code != 200 || up.Count() != 1 {
		t.Fatalf("request after add: %d, upstream called %d times; want 200, once", code, up.Count())
	}
	if got := up.Requests()[0].Header.Get("X-Api-Key"); got != "sk-ant-live-secret" {
		t.Errorf("upstream key = %q, want the one typed at add", got)
	}
	if err := cli("x\n", "accounts", "add", "--id", "live"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("duplicate add through the socket: %v, want an error saying it exists", err)
	}
	// A plan limit rests the account for a day; reset serves it again now.
	up.Push(relaytest.Reply{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "86400"},
		Body: relaytest.Error("rate_limit_error", "Number of requests has exceeded your rate limit")})
	if code := post(); code != http.StatusTooManyRequests {
		t.Fatalf("request answered 429 by the only account: %d, want 429", code)
	}
	if code := post(); code == 200 {
		t.Fatalf("request while the account rests: %d, want a refusal", code)
	}
	if err := cli("", "accounts", "reset", "live"); err != nil {
		t.Fatalf("reset through the socket: %v", err)
	}
	if code := post(); code != 200 {
		t.Errorf("request after reset: %d, want 200", code)
	}
	if err := cli("", "accounts", "reset", "nope"); err == nil {
		t.Error("reset of a missing account through the socket: err = nil, want an error")
	}
	if err := cli("", "accounts", "disable", "live"); err != nil {
		t.Fatal(err)
	}
	if code := post(); code != http.StatusServiceUnavailable {
		t.Errorf("request after disabling the only account: %d, want 503", code)
	}
	if err := cli("", "accounts", "remove", "live"); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Get(secrets.Account("live"), secrets.APIKey); err == nil {
		t.Error("removed account's key: Get err = nil, want it gone from the keychain")
	}
	if err := cli("", "accounts", "remove", "nope"); err == nil {
		t.Error("remove of a missing account: err = nil, want an error")
	}
}
