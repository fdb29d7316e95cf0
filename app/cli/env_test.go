package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"keypool/internal/dirtest"
)

// keypool connect puts the relay's address and key into each CLI's own
// files, so a new terminal needs nothing exported: the first client key of
// a config that has some, "keypool" for one that has none. Disconnect
// removes the files it created. (app/clients tests read the files the way
// each CLI does; this checks what the command hands them.)
func TestConnectCmdWritesKeyIntoFiles(t *testing.T) {
	dir := dirtest.New(t)
	withKeys := filepath.Join(dir, "keys.toml")
	os.WriteFile(withKeys, []byte("api_keys = [\"kp-cmd-test-key\"]\n[server]\nport = 3457\n"), 0o600)
	noKeys := filepath.Join(dir, "nokeys.toml")
	os.WriteFile(noKeys, []byte("[server]\nport = 3458\n"), 0o600)
	withTLS := filepath.Join(dir, "tls.toml")
	os.WriteFile(withTLS, []byte("api_keys = [\"kp-cmd-test-key\"]\n[server]\nport = 3459\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n"), 0o600)
	// What each CLI finds: base URL and key, read from the file Connect
	// wrote.
	found := map[string]func(t *testing.T, home string) (string, string){
		"claude": func(t *testing.T, home string) (string, string) {
			var s struct{ Env map[string]string }
			mustJSON(t, filepath.Join(home, ".claude", "settings.json"), &s)
			return s.Env["ANTHROPIC_BASE_URL"], s.Env["ANTHROPIC_AUTH_TOKEN"]
		},
		"codex": func(t *testing.T, home string) (string, string) {
			// The built-in provider pointed at Keypool (openai_base_url);
			// the key, when the relay needs one, in auth.json's API-key mode.
			var c struct {
				ModelProvider string `toml:"model_provider"`
				BaseURL       string `toml:"openai_base_url"`
			}
			b, err := os.ReadFile(filepath.Join(home, ".codex", "config.toml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := toml.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			if c.ModelProvider != "" {
				t.Errorf("model_provider = %q, want the built-in one left the default", c.ModelProvider)
			}
			key := "keypool" // no auth.json written: the relay needs no key
			if a, err := os.ReadFile(filepath.Join(home, ".codex", "auth.json")); err == nil {
				var auth struct {
					Key string `json:"OPENAI_API_KEY"`
				}
				json.Unmarshal(a, &auth)
				key = auth.Key
			}
			return strings.TrimSuffix(c.BaseURL, "/openai/v1"), key
		},
		"gemini": func(t *testing.T, home string) (string, string) {
			b, err := os.ReadFile(filepath.Join(home, ".gemini", ".env"))
			if err != nil {
				t.Fatal(err)
			}
			env := map[string]string{}
			for _, l := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(l, "="); ok {
					env[k] = v
				}
			}
			return strings.TrimSuffix(env["GOOGLE_GEMINI_BASE_URL"], "/gemini"), env["GEMINI_API_KEY"]
		},
	}
	for _, tt := range []struct {
		name, config string
		args         []string
		stdin        string
		base, key    string
	}{
		{"client_keys", withKeys, nil, "", "http://127.0.0.1:3457", "kp-cmd-test-key"},
		{"no_client_keys", noKeys, nil, "", "http://127.0.0.1:3458", "keypool"},
		{"tls", withTLS, nil, "", "https://127.0.0.1:3459", "kp-cmd-test-key"},
		// Another machine's Keypool: its key, read from standard input.
		{"remote", withKeys, []string{"--url", "https://kp.example.com:8443/"}, "kp-remote-key\n", "https://kp.example.com:8443", "kp-remote-key"},
	} {
		for _, cli := range []string{"claude", "codex", "gemini"} {
			t.Run(tt.name+"/"+cli, func(t *testing.T) {
				home := dirtest.New(t)
				t.Setenv("HOME", home)
				var out bytes.Buffer
				args := append([]string{"connect", cli, "--config", tt.config}, tt.args...)
				if err := run(context.Background(), args, strings.NewReader(tt.stdin), &out, &out); err != nil {
					t.Fatalf("connect: %v, want nil\n%s", err, out.String())
				}
				if strings.Contains(out.String(), "KEYPOOL_API_KEY") || strings.Contains(out.String(), "export ") {
					t.Errorf("connect said %s, want no export asked for", out.String())
				}
				if base, key := found[cli](t, home); base != tt.base || key != tt.key {
					t.Errorf("%s finds base %q key %q, want %q %q", cli, base, key, tt.base, tt.key)
				}
				out.Reset()
				if err := run(context.Background(), []string{"disconnect", cli}, strings.NewReader(""), &out, &out); err != nil {
					t.Fatalf("disconnect: %v, want nil\n%s", err, out.String())
				}
				left, _ := filepath.Glob(filepath.Join(home, "."+cli, "*"))
				for _, p := range left {
					if !strings.Contains(filepath.Base(p), ".keypool-backup-") {
						t.Errorf("after disconnect %s is there, want only backups left", p)
					}
				}
			})
		}
	}
}

// connect says which variables of the user's environment change what the
// CLI does, where they are set and what that means, without their values.
func TestConnectCmdSaysWhatTheEnvironmentOverrides(t *testing.T) {
	home := dirtest.New(t)
	t.Setenv("HOME", home)
	t.Setenv("GOOGLE_GEMINI_BASE_URL", "")
	os.WriteFile(filepath.Join(home, ".zshrc"), []byte("export GEMINI_API_KEY=AIza-users-own-value\n"), 0o600)
	cfg := filepath.Join(dirtest.New(t), "config.toml")
	os.WriteFile(cfg, []byte("api_keys = []\n[server]\nport = 3460\n"), 0o600)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"connect", "gemini", "--config", cfg}, strings.NewReader(""), &out, &out); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "GEMINI_API_KEY (~/.zshrc:1): Gemini CLI sends this key instead of Keypool's") || strings.Contains(s, "AIza") {
		t.Errorf("connect said:\n%s\nwant the override named, with where and what, and no value", s)
	}
}

func mustJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
