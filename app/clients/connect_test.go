package clients

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"keypool/internal/dirtest"
)

const base, key = "http://127.0.0.1:3000", "kp-test"

func write(t *testing.T, p, s string, mode os.FileMode) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o700)
	if err := os.WriteFile(p, []byte(s), mode); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Each client's config: the merge keeps unrelated content, a backup is
// made, writing twice changes nothing, Disconnect restores the file byte
// for byte, and the file's permissions are kept, except that a file which
// now holds the key is 0600 until Disconnect.
func TestConnectRoundTrip(t *testing.T) {
	tests := []struct {
		client Client
		files  map[string]string // relative to home: original content
		check  func(t *testing.T, home string)
	}{
		{ClaudeCode, map[string]string{".claude/settings.json": "{\n  \"model\": \"opus\",\n  \"env\": {\n    \"FOO\": \"bar\"\n  },\n  \"permissions\": {\"allow\": [\"Bash\"]}\n}\n"},
			func(t *testing.T, home string) {
				s := read(t, filepath.Join(home, ".claude/settings.json"))
				for _, want := range []string{`"ANTHROPIC_BASE_URL": "http://127.0.0.1:3000"`, `"ANTHROPIC_AUTH_TOKEN": "kp-test"`, `"FOO": "bar"`, `"permissions"`, `"model": "opus"`} {
					if !strings.Contains(strings.ReplaceAll(s, `":"`, `": "`), want) {
						t.Errorf("settings.json:\n%s\nwant %s in it", s, want)
					}
				}
				if strings.Index(s, `"model"`) > strings.Index(s, `"permissions"`) {
					t.Errorf("settings.json:\n%s\nwant \"model\" before \"permissions\", as they were", s)
				}
			}},
		{Codex, map[string]string{".codex/config.toml": "# my codex settings\nmodel = \"gpt-5.4\"\nmodel_provider = \"openai\" # the default\n\n[model_providers.other]\nname = \"Other\" # keep me\nbase_url = \"http://x/v1\"\n\n[profiles.fast]\nmodel = \"gpt-5.4-mini\"\n",
			".codex/auth.json": "{\"auth_mode\":\"chatgpt\",\"tokens\":{\"refresh_token\":\"rt-users-own\"}}\n"},
			func(t *testing.T, home string) {
				s := read(t, filepath.Join(home, ".codex/config.toml"))
				var cfg struct {
					Model          string         `toml:"model"`
					ModelProvider  string         `toml:"model_provider"`
					OpenAIBaseURL  string         `toml:"openai_base_url"`
					ModelProviders map[string]any `toml:"model_providers"`
				}
				if err := toml.Unmarshal([]byte(s), &cfg); err != nil {
					t.Fatalf("config.toml: %v, want TOML:\n%s", err, s)
				}
				// The built-in provider, pointed at Keypool: sessions stay
				// filed under "openai".
				if cfg.OpenAIBaseURL != base+"/openai/v1" || cfg.ModelProvider != "openai" || cfg.Model != "gpt-5.4" || len(cfg.ModelProviders) != 1 {
					t.Errorf("config = %+v, want openai_base_url %s/openai/v1, the provider left openai, model gpt-5.4, 1 provider:\n%s", cfg, base, s)
				}
				if strings.Index(s, "openai_base_url") > strings.Index(s, "[model_providers.other]") {
					t.Errorf("config.toml:\n%s\nwant openai_base_url at the top level, before the first table", s)
				}
				for _, want := range []string{"# my codex settings", "# keep me", "[profiles.fast]"} {
					if !strings.Contains(s, want) {
						t.Errorf("config.toml:\n%s\nwant %q kept", s, want)
					}
				}
				if a := read(t, filepath.Join(home, ".codex/auth.json")); !strings.Contains(a, `"auth_mode":"apikey"`) || !strings.Contains(a, `"OPENAI_API_KEY":"kp-test"`) {
					t.Errorf("auth.json = %s, want the client key in API-key mode (the relay needs one)", a)
				}
			}},
		{GeminiCLI, map[string]string{".gemini/.env": "# gemini\nOTHER=1\nGEMINI_API_KEY=old\n", ".gemini/settings.json": "{\"security\":{\"auth\":{\"selectedType\":\"oauth-personal\"}},\"theme\":\"dark\"}\n"},
			func(t *testing.T, home string) {
				env := read(t, filepath.Join(home, ".gemini/.env"))
				if !strings.Contains(env, "GEMINI_API_KEY=kp-test") || !strings.Contains(env, "GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:3000/gemini") ||
					!strings.Contains(env, "OTHER=1") || strings.Contains(env, "=old") || !strings.HasPrefix(env, "# gemini") {
					t.Errorf(".env:\n%s\nwant GEMINI_API_KEY=kp-test, GOOGLE_GEMINI_BASE_URL=…/gemini, OTHER=1 and the comment kept, the old key gone", env)
				}
				s := read(t, filepath.Join(home, ".gemini/settings.json"))
				if !strings.Contains(s, `"selectedType":"gemini-api-key"`) || !strings.Contains(s, `"theme":"dark"`) {
					t.Errorf("settings.json:\n%s\nwant selectedType gemini-api-key, theme dark kept", s)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(string(tt.client), func(t *testing.T) {
			home := dirtest.New(t)
			for rel, content := range tt.files {
				write(t, filepath.Join(home, rel), content, 0o640)
			}
			if on, _ := Connected(home, tt.client); on {
				t.Fatal("Connected before Connect = true, want false")
			}
			if err := Connect(home, tt.client, base, key); err != nil {
				t.Fatal(err)
			}
			tt.check(t, home)
			if on, _ := Connected(home, tt.client); !on {
				t.Error("Connected after Connect = false, want true")
			}
			after := map[string]string{}
			for rel := range tt.files {
				p := filepath.Join(home, rel)
				after[rel] = read(t, p)
				want := os.FileMode(0o640)
				if rel != ".gemini/settings.json" && rel != ".codex/config.toml" { // the others hold the key
					want = 0o600
				}
				if fi, _ := os.Stat(p); unixModes && fi.Mode().Perm() != want {
					t.Errorf("%s mode %v, want %v", rel, fi.Mode().Perm(), want)
				}
				if m, _ := filepath.Glob(p + ".keypool-backup-*"); len(m) != 1 || read(t, m[0]) != tt.files[rel] {
					t.Errorf("%s: backups %v, want one holding the original", rel, m)
				}
			}
			if err := Connect(home, tt.client, base, key); err != nil {
				t.Fatal(err)
			}
			for rel := range tt.files {
				if read(t, filepath.Join(home, rel)) != after[rel] {
					t.Errorf("%s changed on a second Connect, want it as after the first", rel)
				}
			}
			if err := Disconnect(home, tt.client); err != nil {
				t.Fatal(err)
			}
			for rel, content := range tt.files {
				if got := read(t, filepath.Join(home, rel)); got != content {
					t.Errorf("%s after Disconnect:\n%q\nwant\n%q", rel, got, content)
				}
				if fi, _ := os.Stat(filepath.Join(home, rel)); unixModes && fi.Mode().Perm() != 0o640 {
					t.Errorf("%s mode after Disconnect %v, want 0640", rel, fi.Mode().Perm())
				}
			}
			if on, _ := Connected(home, tt.client); on {
				t.Error("Connected after Disconnect = true, want false")
			}
		})
	}
}

// Without files, Connect creates them and Disconnect removes them; a file
// changed since Connect gets only Keypool's keys put back.
func TestConnectFreshAndEdited(t *testing.T) {
	home := dirtest.New(t)
	if err := Connect(home, ClaudeCode, base, key); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(home, ".claude/settings.json")
	if fi, _ := os.Stat(p); unixModes && fi.Mode().Perm() != 0o600 {
		t.Errorf("new file mode %v, want 0600", fi.Mode().Perm())
	}
	// The user edits something else meanwhile.
	s := strings.Replace(read(t, p), "{", "{\"theme\":\"light\",", 1)
	write(t, p, s, 0o600)
	if err := Disconnect(home, ClaudeCode); err != nil {
		t.Fatal(err)
	}
	got := read(t, p)
	if strings.Contains(got, "ANTHROPIC") || !strings.Contains(got, `"theme":"light"`) {
		t.Errorf("after Disconnect: %s, want the user's theme kept and no ANTHROPIC key", got)
	}
	home2 := dirtest.New(t)
	Connect(home2, GeminiCLI, base, key)
	Disconnect(home2, GeminiCLI)
	if _, err := os.Stat(filepath.Join(home2, ".gemini/.env")); !os.IsNotExist(err) {
		t.Errorf(".gemini/.env after Disconnect: Stat = %v, want it gone (Keypool created it)", err)
	}
}

// A malformed file is reported and left untouched.
func TestConnectMalformed(t *testing.T) {
	for _, tt := range []struct {
		c    Client
		rel  string
		body string
	}{
		{ClaudeCode, ".claude/settings.json", "{ not json"},
		{Codex, ".codex/config.toml", "model = = broken\n"},
		{GeminiCLI, ".gemini/settings.json", "[1,2]"},
	} {
		home := dirtest.New(t)
		p := filepath.Join(home, tt.rel)
		write(t, p, tt.body, 0o600)
		err := Connect(home, tt.c, base, key)
		if err == nil || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("%s: Connect = %v, want an error saying nothing was changed", tt.c, err)
		}
		if read(t, p) != tt.body {
			t.Errorf("%s: the malformed file was changed, want it untouched", tt.c)
		}
		if _, err := os.Stat(filepath.Join(home, ".gemini/.env")); !os.IsNotExist(err) {
			t.Errorf("%s: .gemini/.env was written, want no other file", tt.c)
		}
	}
}
