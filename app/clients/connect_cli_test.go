package clients

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"keypool/internal/dirtest"
)

// reach is what a CLI would send its requests to, and with which key.
type reach struct{ base, key string }

// Each reader below gets what one CLI reads, from its own files the way
// that CLI reads them, given the variables exported in its shell (none, in
// these tests: a new terminal after Connect). The rules are taken from the
// CLIs' source and were checked against the real CLIs from npm (Claude Code
// 2.1.332, codex-cli 0.171.0, Gemini CLI 0.61.0).
var readers = map[Client]func(home, cwd string, exported map[string]string) (reach, error){
	ClaudeCode: claudeReads,
	Codex:      codexReads,
	GeminiCLI:  geminiReads,
}

// claudeReads: Claude Code copies ~/.claude/settings.json's "env" object
// over its environment at start; ANTHROPIC_AUTH_TOKEN is sent as
// Authorization: Bearer to ANTHROPIC_BASE_URL.
func claudeReads(home, _ string, exported map[string]string) (reach, error) {
	env := copyEnv(exported)
	b, err := os.ReadFile(filepath.Join(home, ".claude", "settings.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return reach{}, err
	}
	if err == nil {
		var s struct {
			Env map[string]string `json:"env"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return reach{}, fmt.Errorf("settings.json: %w", err)
		}
		for k, v := range s.Env {
			env[k] = v
		}
	}
	if env["ANTHROPIC_API_KEY"] != "" {
		return reach{}, errors.New("ANTHROPIC_API_KEY is set: it would be sent as x-api-key instead")
	}
	r := reach{env["ANTHROPIC_BASE_URL"], env["ANTHROPIC_AUTH_TOKEN"]}
	if r.base == "" || r.key == "" {
		return reach{}, fmt.Errorf("no ANTHROPIC_BASE_URL/ANTHROPIC_AUTH_TOKEN: %+v", r)
	}
	return r, nil
}

// unixModes: file modes mean something here (Windows keeps no permission
// bits: there, a file's owner's profile folder keeps it private).
var unixModes = runtime.GOOS != "windows"

// codexProvider is Codex's ModelProviderInfo, which denies unknown fields.
type codexProvider struct {
	Name                      string            `toml:"name"`
	BaseURL                   string            `toml:"base_url"`
	EnvKey                    string            `toml:"env_key"`
	EnvKeyInstructions        string            `toml:"env_key_instructions"`
	ExperimentalBearerToken   string            `toml:"experimental_bearer_token"`
	Auth                      map[string]any    `toml:"auth"`
	AWS                       map[string]any    `toml:"aws"`
	WireAPI                   string            `toml:"wire_api"`
	QueryParams               map[string]string `toml:"query_params"`
	HTTPHeaders               map[string]string `toml:"http_headers"`
	EnvHTTPHeaders            map[string]string `toml:"env_http_headers"`
	RequestMaxRetries         int               `toml:"request_max_retries"`
	StreamMaxRetries          int               `toml:"stream_max_retries"`
	StreamIdleTimeoutMS       int               `toml:"stream_idle_timeout_ms"`
	WebsocketConnectTimeoutMS int               `toml:"websocket_connect_timeout_ms"`
	RequiresOpenAIAuth        bool              `toml:"requires_openai_auth"`
	SupportsWebsockets        bool              `toml:"supports_websockets"`
}

// codexReads: the provider named by model_provider in ~/.codex/config.toml;
// its key comes from the env_key variable when env_key is set (missing or
// empty: "Missing environment variable"), else from
// experimental_bearer_token, and is sent as Authorization: Bearer.
func codexReads(home, _ string, exported map[string]string) (reach, error) {
	b, err := os.ReadFile(filepath.Join(home, ".codex", "config.toml"))
	if err != nil {
		return reach{}, err
	}
	var doc struct {
		ModelProvider  string         `toml:"model_provider"`
		OpenAIBaseURL  string         `toml:"openai_base_url"`
		ModelProviders map[string]any `toml:"model_providers"`
	}
	if err := toml.Unmarshal(b, &doc); err != nil {
		return reach{}, fmt.Errorf("config.toml: %w", err)
	}
	if doc.ModelProvider == "" || doc.ModelProvider == "openai" {
		// The built-in provider: openai_base_url, and the login of
		// auth.json (an API key there is sent; a ChatGPT login's token
		// is sent too, which a relay without client keys ignores, read
		// here as no key).
		if doc.OpenAIBaseURL == "" {
			return reach{}, errors.New("the built-in provider goes to api.openai.com")
		}
		r := reach{base: doc.OpenAIBaseURL}
		if a, err := os.ReadFile(filepath.Join(home, ".codex", "auth.json")); err == nil {
			var auth struct {
				Mode string `json:"auth_mode"`
				Key  string `json:"OPENAI_API_KEY"`
			}
			if json.Unmarshal(a, &auth) == nil && auth.Mode == "apikey" {
				r.key = auth.Key
			}
		}
		return r, nil
	}
	raw, ok := doc.ModelProviders[doc.ModelProvider]
	if !ok {
		return reach{}, fmt.Errorf("model provider %q is not defined", doc.ModelProvider)
	}
	tb, err := toml.Marshal(raw)
	if err != nil {
		return reach{}, err
	}
	var p codexProvider
	dec := toml.NewDecoder(bytes.NewReader(tb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return reach{}, fmt.Errorf("model_providers.%s: %w", doc.ModelProvider, err)
	}
	if p.WireAPI != "responses" {
		return reach{}, fmt.Errorf("wire_api %q", p.WireAPI)
	}
	r := reach{base: p.BaseURL}
	switch {
	case p.EnvKey != "":
		r.key = strings.TrimSpace(exported[p.EnvKey])
		if r.key == "" {
			return reach{}, fmt.Errorf("Missing environment variable: `%s`", p.EnvKey)
		}
		r.key = exported[p.EnvKey]
	case p.ExperimentalBearerToken != "":
		r.key = p.ExperimentalBearerToken
	default:
		return reach{}, errors.New("the provider has no key")
	}
	return r, nil
}

// geminiReads: Gemini CLI (in a trusted folder) loads the first of
// <dir>/.gemini/.env and <dir>/.env walking up from the working folder,
// then ~/.gemini/.env and ~/.env, without overriding exported variables; it
// needs security.auth.selectedType = "gemini-api-key" in
// ~/.gemini/settings.json, then sends GEMINI_API_KEY as x-goog-api-key to
// GOOGLE_GEMINI_BASE_URL.
func geminiReads(home, cwd string, exported map[string]string) (reach, error) {
	b, err := os.ReadFile(filepath.Join(home, ".gemini", "settings.json"))
	if err != nil {
		return reach{}, err
	}
	var s struct {
		Security struct {
			Auth struct {
				SelectedType string `json:"selectedType"`
			} `json:"auth"`
		} `json:"security"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return reach{}, fmt.Errorf("settings.json: %w", err)
	}
	if s.Security.Auth.SelectedType != "gemini-api-key" {
		return reach{}, fmt.Errorf("selectedType %q: Gemini CLI would exit 41", s.Security.Auth.SelectedType)
	}
	env := copyEnv(exported)
	if f := geminiEnvFile(home, cwd); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return reach{}, err
		}
		for k, v := range parseDotenv(string(b)) {
			if _, set := env[k]; !set {
				env[k] = v
			}
		}
	}
	r := reach{env["GOOGLE_GEMINI_BASE_URL"], env["GEMINI_API_KEY"]}
	if r.base == "" || r.key == "" {
		return reach{}, fmt.Errorf("no GOOGLE_GEMINI_BASE_URL/GEMINI_API_KEY: %+v", r)
	}
	return r, nil
}

func geminiEnvFile(home, cwd string) string {
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	for dir := cwd; ; dir = filepath.Dir(dir) {
		for _, p := range []string{filepath.Join(dir, ".gemini", ".env"), filepath.Join(dir, ".env")} {
			if exists(p) {
				return p
			}
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	for _, p := range []string{filepath.Join(home, ".gemini", ".env"), filepath.Join(home, ".env")} {
		if exists(p) {
			return p
		}
	}
	return ""
}

// dotenvLineRE is the npm dotenv package's line rule, one line at a time.
var dotenvLineRE = regexp.MustCompile("^\\s*(?:export\\s+)?([\\w.-]+)(?:\\s*=\\s*?|:\\s+?)(\\s*'(?:\\\\'|[^'])*'|\\s*\"(?:\\\\\"|[^\"])*\"|\\s*`(?:\\\\`|[^`])*`|[^#\\r\\n]+)?\\s*(?:#.*)?$")

// parseDotenv reads a .env file as npm's dotenv.parse does for values on
// one line: the value is trimmed, matching outer quotes are removed, and in
// double quotes \n and \r become line breaks.
func parseDotenv(s string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		m := dotenvLineRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v := strings.TrimSpace(m[2])
		q := byte(0)
		if len(v) >= 2 && strings.ContainsRune("'\"`", rune(v[0])) && v[len(v)-1] == v[0] {
			q, v = v[0], v[1:len(v)-1]
		}
		if q == '"' {
			v = strings.NewReplacer(`\n`, "\n", `\r`, "\r").Replace(v)
		}
		out[m[1]] = v
	}
	return out
}

func copyEnv(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// After Connect, each CLI finds the relay and the key in its own files with
// nothing exported, for a generated client key, for the "keypool" that a
// relay without client keys accepts, and for a config key full of
// characters its file format treats specially. The files holding the key
// are 0600; Disconnect puts back the user's files byte for byte, modes
// included.
func TestConnectEachCLIGetsItsKeyFromFiles(t *testing.T) {
	originals := map[Client]map[string]string{
		ClaudeCode: {".claude/settings.json": "{\n  \"model\": \"opus\"\n}\n"},
		Codex:      {".codex/config.toml": "model = \"gpt-5.4\"\n"},
		GeminiCLI:  {".gemini/.env": "# mine\nOTHER=1\n", ".gemini/settings.json": "{\"theme\":\"dark\"}\n"},
	}
	holdsKey := map[string]bool{".claude/settings.json": true, ".gemini/.env": true}
	keys := map[string]string{
		"client_key": "kp-Zm9vYmFyYmF6cXV4_-0123456789abcdefghij",
		"no_key":     "keypool",
		"odd_key":    `it's #1 "quoted"`,
	}
	for _, c := range Clients {
		for kname, k := range keys {
			for _, fresh := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/existing_files", c, kname)
				if fresh {
					name = fmt.Sprintf("%s/%s/no_files", c, kname)
				}
				t.Run(name, func(t *testing.T) {
					if c == GeminiCLI && kname == "odd_key" {
						// Both quote kinds: no .env spelling reads back
						// exactly, so Connect must refuse it.
						home := dirtest.New(t)
						if err := Connect(home, c, base, k); err == nil || !strings.Contains(err.Error(), "nothing was changed") {
							t.Fatalf("Connect = %v, want a refusal", err)
						}
						return
					}
					home := dirtest.New(t)
					cwd := filepath.Join(home, "project")
					os.MkdirAll(cwd, 0o755)
					if !fresh {
						for rel, body := range originals[c] {
							write(t, filepath.Join(home, rel), body, 0o644)
						}
					}
					if err := Connect(home, c, base, k); err != nil {
						t.Fatal(err)
					}
					got, err := readers[c](home, cwd, nil)
					if err != nil {
						t.Fatalf("%s with nothing exported: %v, want it to reach the relay", c, err)
					}
					want := map[Client]reach{
						ClaudeCode: {base, k},
						Codex:      {base + "/openai/v1", k},
						GeminiCLI:  {base + "/gemini", k},
					}[c]
					if c == Codex && k == NoKey {
						want.key = "" // its own login goes; the relay needs none
					}
					if got != want {
						t.Errorf("%s reads %+v, want %+v", c, got, want)
					}
					for rel := range originals[c] {
						fi, err := os.Stat(filepath.Join(home, rel))
						if err != nil {
							t.Fatal(err)
						}
						if holdsKey[rel] && unixModes && fi.Mode().Perm() != 0o600 {
							t.Errorf("%s holds the key with mode %v, want 0600", rel, fi.Mode().Perm())
						}
						if m, _ := filepath.Glob(filepath.Join(home, rel) + ".keypool-*"); len(m) > 0 {
							for _, p := range m {
								if fi, _ := os.Stat(p); unixModes && fi.Mode().Perm() != 0o600 {
									t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
								}
							}
						}
					}
					if err := Disconnect(home, c); err != nil {
						t.Fatal(err)
					}
					for rel, body := range originals[c] {
						p := filepath.Join(home, rel)
						if fresh {
							if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
								t.Errorf("%s after Disconnect: Stat = %v, want it gone (Connect created it)", rel, err)
							}
							continue
						}
						if got := read(t, p); got != body {
							t.Errorf("%s after Disconnect = %q, want %q", rel, got, body)
						}
						if fi, _ := os.Stat(p); unixModes && fi.Mode().Perm() != 0o644 {
							t.Errorf("%s after Disconnect has mode %v, want 0644 as before", rel, fi.Mode().Perm())
						}
					}
				})
			}
		}
	}
}

// The exported variables still win where the CLI lets them, and an env_key
// left by an older Keypool is replaced: Codex would otherwise stop with
// "Missing environment variable" in a shell without it.
func TestConnectCodexReplacesEnvKey(t *testing.T) {
	home := dirtest.New(t)
	old := "model_provider = \"keypool\"\n\n[model_providers.keypool]\nname = \"Keypool\"\nbase_url = \"http://127.0.0.1:3000/openai/v1\"\nenv_key = \"KEYPOOL_API_KEY\"\nwire_api = \"responses\"\n"
	write(t, filepath.Join(home, ".codex/config.toml"), old, 0o644)
	if _, err := codexReads(home, "", nil); err == nil || !strings.Contains(err.Error(), "Missing environment variable") {
		t.Fatalf("the old config read with nothing exported: %v, want Codex's missing-variable error", err)
	}
	if err := Connect(home, Codex, base, key); err != nil {
		t.Fatal(err)
	}
	got, err := codexReads(home, "", nil)
	if err != nil || got.key != key || got.base != base+"/openai/v1" {
		t.Fatalf("Codex reads after Connect: %+v, %v; want the built-in provider at the relay with the key, nil", got, err)
	}
	if s := read(t, filepath.Join(home, ".codex/config.toml")); strings.Contains(s, `model_provider = "keypool"`) || !strings.Contains(s, "[model_providers.keypool]") {
		t.Errorf("config.toml after Connect:\n%s\nwant the built-in provider the default, and the keypool table kept for the sessions it filed", s)
	}
	if err := Disconnect(home, Codex); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(home, ".codex/config.toml")); got != old {
		t.Errorf("after Disconnect:\n%s\nwant\n%s", got, old)
	}
}

// A state written before Keypool recorded the mode still restores the
// file's mode, from the backup.
func TestDisconnectModeFromOldState(t *testing.T) {
	home := dirtest.New(t)
	p := filepath.Join(home, ".claude/settings.json")
	write(t, p, "{}\n", 0o600)
	backup := p + ".keypool-backup-20260101-000000"
	write(t, backup, "{\"a\":1}\n", 0o640)
	written := "{\"env\":{}}\n"
	write(t, p, written, 0o600)
	quoted, _ := json.Marshal(backup) // a Windows path has backslashes
	write(t, statePath(p), `{"prev":{},"backup":`+string(quoted)+`,"written":"`+hash([]byte(written))+`"}`, 0o600)
	if err := Disconnect(home, ClaudeCode); err != nil {
		t.Fatal(err)
	}
	if got := read(t, p); got != "{\"a\":1}\n" {
		t.Errorf("restored %q, want the backup's %q", got, "{\"a\":1}\n")
	}
	if fi, _ := os.Stat(p); unixModes && fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the backup's 0640", fi.Mode().Perm())
	}
}

func TestDotenvValueReadsBack(t *testing.T) {
	for _, v := range []string{"kp-abc_DEF-123", "keypool", "http://127.0.0.1:3000/gemini", "a#b", " padded ", "it's", `say "hi"`, "`tick`", `back\slash`, "$HOME", ""} {
		q, err := dotenvValue(v)
		if err != nil {
			t.Errorf("dotenvValue(%q): %v, want nil", v, err)
			continue
		}
		if got := parseDotenv("K=" + q + "\n")["K"]; got != v {
			t.Errorf("%q written as %s reads back as %q, want it unchanged", v, q, got)
		}
	}
	for _, v := range []string{"a\nb", `it's "x"`, `it's \x`} {
		if q, err := dotenvValue(v); err == nil {
			t.Errorf("%q written as %s, want an error", v, q)
		}
	}
}

// A connection an earlier Keypool made (its own provider as Codex's
// default) is undone first: Connect then points the built-in provider at
// the relay, and Disconnect leaves the user's file as it was before either.
// A default provider of the user's own is refused, with nothing changed.
func TestConnectCodexKeepsOneProvider(t *testing.T) {
	home := dirtest.New(t)
	p := filepath.Join(home, ".codex/config.toml")
	orig := "model = \"gpt-5.4\"\n"
	write(t, p, orig, 0o644)
	if err := connect([]edit{legacyCodexEdit(p, base, key)}); err != nil {
		t.Fatal(err)
	}
	if s := read(t, p); !strings.Contains(s, `model_provider = "keypool"`) {
		t.Fatalf("the earlier connection:\n%s", s)
	}
	if err := Connect(home, Codex, base, key); err != nil {
		t.Fatal(err)
	}
	s := read(t, p)
	if strings.Contains(s, "model_providers") || strings.Contains(s, "model_provider =") || !strings.Contains(s, `openai_base_url = "`+base+`/openai/v1"`) {
		t.Errorf("after Connect:\n%s\nwant only openai_base_url added to the user's file", s)
	}
	if err := Disconnect(home, Codex); err != nil {
		t.Fatal(err)
	}
	if got := read(t, p); got != orig {
		t.Errorf("after Disconnect: %q, want %q", got, orig)
	}

	mine := "model_provider = \"azure\"\n\n[model_providers.azure]\nname = \"Azure\"\nbase_url = \"https://x.openai.azure.com/openai\"\n"
	write(t, p, mine, 0o644)
	if err := Connect(home, Codex, base, key); err == nil || !strings.Contains(err.Error(), `default model provider in Codex's config is "azure"`) {
		t.Errorf("Connect with a provider of the user's own: %v, want a refusal naming it", err)
	}
	if got := read(t, p); got != mine {
		t.Errorf("the user's file changed: %q", got)
	}
}
