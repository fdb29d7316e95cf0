package clients

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"keypool/internal/dirtest"
)

// A project connection writes the CLI's own project files, keeps the key
// out of the repository, leaves everything else as it was, and Disconnect
// puts every file back byte for byte (or removes the ones it made).
func TestProjectRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		client Client
		before map[string]string // relative to the project, or ~/ for home
		check  func(t *testing.T, home, dir string)
	}{
		{ClaudeCode, map[string]string{
			".claude/settings.local.json": "{\n  \"permissions\": {\"allow\": [\"Bash(ls)\"]}\n}\n",
			".git/info/exclude":           "# local ignores\n*.swp\n",
		}, func(t *testing.T, home, dir string) {
			s := read(t, filepath.Join(dir, ".claude", "settings.local.json"))
			if gjson.Get(s, "env.ANTHROPIC_BASE_URL").String() != base || gjson.Get(s, "env.ANTHROPIC_AUTH_TOKEN").String() != key ||
				gjson.Get(s, "permissions.allow.0").String() != "Bash(ls)" {
				t.Errorf("settings.local.json:\n%s", s)
			}
			if x := read(t, filepath.Join(dir, ".git", "info", "exclude")); !strings.HasPrefix(x, "# local ignores\n*.swp\n") ||
				!strings.Contains(x, "/.claude/settings.local.json\n") {
				t.Errorf("exclude:\n%s", x)
			}
		}},
		{GeminiCLI, map[string]string{
			".gemini/settings.json":         `{"model":{"name":"gemini-2.5-pro"}}`,
			"~/.gemini/trustedFolders.json": `{"/somewhere/else": "TRUST_FOLDER"}`,
		}, func(t *testing.T, home, dir string) {
			env := read(t, filepath.Join(dir, ".gemini", ".env"))
			if !strings.Contains(env, "GOOGLE_GEMINI_BASE_URL="+base+"/gemini\n") || !strings.Contains(env, "GEMINI_API_KEY="+key+"\n") {
				t.Errorf(".gemini/.env:\n%s", env)
			}
			s := read(t, filepath.Join(dir, ".gemini", "settings.json"))
			if gjson.Get(s, "security.auth.selectedType").String() != "gemini-api-key" || gjson.Get(s, "model.name").String() != "gemini-2.5-pro" {
				t.Errorf(".gemini/settings.json: %s", s)
			}
			tf := read(t, filepath.Join(home, ".gemini", "trustedFolders.json"))
			if gjson.Get(tf, jsonPathKey(dir)).String() != "TRUST_FOLDER" || gjson.Get(tf, jsonPathKey("/somewhere/else")).String() != "TRUST_FOLDER" {
				t.Errorf("trustedFolders.json: %s", tf)
			}
		}},
	} {
		t.Run(string(tt.client), func(t *testing.T) {
			home := dirtest.New(t)
			dir := filepath.Join(dirtest.New(t), "repo.with.dots")
			os.MkdirAll(dir, 0o755)
			path := func(rel string) string {
				if strings.HasPrefix(rel, "~/") {
					return filepath.Join(home, rel[2:])
				}
				return filepath.Join(dir, rel)
			}
			for rel, s := range tt.before {
				write(t, path(rel), s, 0o644)
			}
			if err := ConnectProject(home, dir, tt.client, base, key); err != nil {
				t.Fatal(err)
			}
			tt.check(t, home, dir)
			if ok, err := ProjectConnected(home, dir, tt.client); !ok || err != nil {
				t.Errorf("ProjectConnected = %v, %v; want true", ok, err)
			}
			if err := ConnectProject(home, dir, tt.client, base, key); err != nil {
				t.Fatalf("a second connect: %v", err)
			}
			if err := DisconnectProject(home, dir, tt.client); err != nil {
				t.Fatal(err)
			}
			for rel, s := range tt.before {
				if got := read(t, path(rel)); got != s {
					t.Errorf("%s after disconnect:\n%q\nwant it byte for byte:\n%q", rel, got, s)
				}
			}
			for _, made := range []string{".claude/settings.local.json", ".gemini/.env"} {
				if _, had := tt.before[made]; !had {
					if _, err := os.Stat(path(made)); err == nil {
						t.Errorf("%s is left after disconnect, want it gone (Keypool made it)", made)
					}
				}
			}
			if ok, _ := ProjectConnected(home, dir, tt.client); ok {
				t.Error("still connected after disconnect")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != len(topLevel(tt.before)) {
				t.Errorf("the project holds %d entries after disconnect, want %d (only the user's own)", len(entries), len(topLevel(tt.before)))
			}
		})
	}
}

// In a project that had none of the CLI's files, Disconnect leaves it as
// it was: the files and the folders Keypool made for them are gone.
func TestProjectFreshFolderLeftEmpty(t *testing.T) {
	for _, c := range []Client{ClaudeCode, GeminiCLI} {
		home, dir := dirtest.New(t), dirtest.New(t)
		if err := ConnectProject(home, dir, c, base, key); err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) == 0 {
			t.Fatalf("%s: connect wrote nothing in the project", c)
		}
		if err := DisconnectProject(home, dir, c); err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: the project holds %v after disconnect, want nothing", c, entries)
		}
	}
}

// Codex reads no provider, base URL or key from a project's config, so it
// has no project connection: said, and nothing is written.
func TestProjectCodexRefused(t *testing.T) {
	home, dir := dirtest.New(t), dirtest.New(t)
	if err := ConnectProject(home, dir, Codex, base, key); !errors.Is(err, ErrNoProjectConfig) {
		t.Errorf("err = %v, want ErrNoProjectConfig", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the project holds %d files, want none", len(entries))
	}
	if err := ConnectProject(home, "relative/dir", ClaudeCode, base, key); err == nil {
		t.Error("a relative project path: err = nil")
	}
}

// topLevel is the distinct first path elements of a project's files
// (those of home left out).
func topLevel(files map[string]string) map[string]bool {
	out := map[string]bool{}
	for rel := range files {
		if !strings.HasPrefix(rel, "~/") {
			out[strings.SplitN(rel, "/", 2)[0]] = true
		}
	}
	return out
}
