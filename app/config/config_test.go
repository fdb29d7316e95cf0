package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"keypool/internal/dirtest"
)

// fullFile sets every key of the format.
const fullFile = `# every key
api_keys = ["client-s3cr3t-1", "client-s3cr3t-2"]

[server]
host = "localhost"
port = 8080
database_path = "data/relay.db"
log_level = "DEBUG"
idle_timeout_seconds = 120
max_body_bytes = 1048576

[session]
sticky_ttl_seconds = 7200
renewal_threshold_seconds = 600
unavailable_cooldown_seconds = 1800
rate_limit_cooldown_seconds = 30

[[accounts]]
type = "claude-api"
id = "main"
name = "Main"
priority = 100
enabled = true
api_key = "sk-ant-s3cr3t"
api_url = "https://api.anthropic.com/"
auth_header = "x-api-key"

[[accounts]]
type = "claude-api"
id = "mirror.1"
priority = -5
enabled = false
api_key = "mirror-s3cr3t"
api_url = "http://mirror.example.com/api//"
auth_header = "bearer"

[accounts.proxy]
type = "socks5"
host = "127.0.0.1"
port = 1080
username = "user"
password = "proxy-s3cr3t"

[[accounts]]
type = "claude-oauth"
id = "login"
refresh_token = "refresh-s3cr3t"
access_token = "access-s3cr3t"
proxy = { type = "http", host = "proxy.example.com", port = 8080 }
`

func TestParseFull(t *testing.T) {
	path := filepath.Join("etc", "keypool", "config.toml")
	got, err := Parse(path, []byte(fullFile))
	if err != nil {
		t.Fatal(err)
	}
	want := &File{
		Path:    path,
		APIKeys: []string{"client-s3cr3t-1", "client-s3cr3t-2"},
		Server: Server{
			Host:               "localhost",
			Port:               8080,
			DatabasePath:       filepath.Join("etc", "keypool", "data", "relay.db"),
			LogLevel:           "debug",
			IdleTimeoutSeconds: 120,
			MaxBodyBytes:       1 << 20,
		},
		Scheduler: Scheduler{Strategy: "priority", FillThreshold: 0.95},
		Notify:    Notify{RunwayMinutes: DefaultRunwayMinutes},
		Session: Session{
			StickyTTLSeconds:           7200,
			RenewalThresholdSeconds:    600,
			UnavailableCooldownSeconds: 1800,
			RateLimitCooldownSeconds:   30,
		},
		Accounts: []Account{
			{
				Type: "claude-api", ID: "main", Name: "Main", Priority: 100, Enabled: true,
				APIKey: "sk-ant-s3cr3t", APIURL: "https://api.anthropic.com", AuthHeader: "x-api-key",
			},
			{
				Type: "claude-api", ID: "mirror.1", Name: "mirror.1", Priority: -5, Enabled: false,
				APIKey: "mirror-s3cr3t", APIURL: "http://mirror.example.com/api", AuthHeader: "bearer",
				Proxy: &Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1080, Username: "user", Password: "proxy-s3cr3t"},
			},
			{
				Type: "claude-oauth", ID: "login", Name: "login", Enabled: true,
				RefreshToken: "refresh-s3cr3t", AccessToken: "access-s3cr3t", AuthHeader: "x-api-key",
				Proxy: &Proxy{Type: "http", Host: "proxy.example.com", Port: 8080},
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		// The types redact themselves, so compare field by field for a
		// readable diff (this test's secrets are fake).
		t.Errorf("server: got %+v, want %+v", got.Server, want.Server)
		t.Errorf("session: got %+v, want %+v", got.Session, want.Session)
		for i := range max(len(got.Accounts), len(want.Accounts)) {
			var g, w Account
			if i < len(got.Accounts) {
				g = got.Accounts[i]
			}
			if i < len(want.Accounts) {
				w = want.Accounts[i]
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("accounts[%d]:\n got %s %q %q %q\nwant %s %q %q %q", i,
					g, g.APIKey, g.RefreshToken, g.AccessToken, w, w.APIKey, w.RefreshToken, w.AccessToken)
			}
		}
		t.Fatalf("Parse(full) differs from want, as above")
	}
	if got.Addr() != "localhost:8080" {
		t.Errorf("Addr = %q, want localhost:8080", got.Addr())
	}
	if got.Server.LogLevelValue() != slog.LevelDebug {
		t.Errorf("LogLevelValue = %v, want %v", got.Server.LogLevelValue(), slog.LevelDebug)
	}
}

// seedExamples are the seed relay's README and example snippets, verbatim
// apart from being joined into whole files.
var seedExamples = map[string]string{
	"brief": `api_keys = ["local-client-key"]
[server]
host = "127.0.0.1"
port = 3000
database_path = "data/relay.db"
log_level = "info"
[session]
sticky_ttl_seconds = 3600
renewal_threshold_seconds = 300
unavailable_cooldown_seconds = 3600
rate_limit_cooldown_seconds = 60
[[accounts]]
type = "claude-api"
id = "main"
name = "Main"
priority = 100
enabled = true
api_key = "sk-ant-..."
api_url = "https://api.anthropic.com"
[accounts.proxy]
type = "socks5"
host = "127.0.0.1"
port = 1080
`,
	"readme": `api_keys = [
    "your-api-key-1",
    "your-api-key-2",
]

[server]
host = "127.0.0.1"
port = 3000
database_path = "data/relay.db"
log_level = "info"  # trace, debug, info, warn, error

[session]
sticky_ttl_seconds = 3600            # Session TTL (default: 1 hour)
renewal_threshold_seconds = 300       # Renew when less than 5 minutes remaining
unavailable_cooldown_seconds = 3600   # Account unavailable cooldown

[[accounts]]
type = "claude-oauth"
id = "claude-1"
name = "Claude OAuth Account"
priority = 100
enabled = true
refresh_token = "your-refresh-token"
api_url = "https://api.anthropic.com"  # Optional

[[accounts]]
type = "claude-api"
id = "claude-api-1"
name = "Claude API Account"
priority = 90
enabled = true
api_key = "sk-ant-api03-xxxx"

[[accounts]]
type = "gemini"
id = "gemini-1"
name = "Gemini Account"
priority = 100
enabled = true
refresh_token = "your-google-refresh-token"

[[accounts]]
type = "openai-responses"
id = "codex-1"
name = "OpenAI Responses Account"
priority = 100
enabled = true
api_key = "sk-your-openai-api-key"

[accounts.proxy]
type = "socks5"  # or "http"
host = "127.0.0.1"
port = 1080
username = "user"  # Optional
password = "pass"  # Optional
`,
	"minimal": `api_keys = ["your-relay-key"]

[server]
host = "127.0.0.1"
port = 3000

[[accounts]]
type = "claude-api"
id = "main"
name = "Main Account"
priority = 100
enabled = true
api_key = "sk-ant-api03-xxxx"
`,
	"docker": `api_keys = ["your-relay-key"] # must come before [server]
[server]
host = "0.0.0.0" # for Docker
port = 3000
`,
	"proxies": `# no auth
api_keys = []

[[accounts]]
type = "claude-oauth"
id = "claude-proxy"
name = "Claude with SOCKS5 Proxy"
priority = 50
enabled = true
refresh_token = "your-refresh-token"

[accounts.proxy]
type = "socks5"
host = "127.0.0.1"
port = 1080
username = "user"    # optional
password = "pass"    # optional

[[accounts]]
type = "gemini"
id = "gemini-proxy"
name = "Gemini with HTTP Proxy"
priority = 50
enabled = true
refresh_token = "your-refresh-token"
api_url = "https://cloudcode.googleapis.com"

[accounts.proxy]
type = "http"
host = "proxy.example.com"
port = 8080
username = "user"    # optional
password = "pass"    # optional
`,
}

func TestSeedExamples(t *testing.T) {
	for name, doc := range seedExamples {
		t.Run(name, func(t *testing.T) {
			f, err := Parse("config.toml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range f.Accounts {
				if !a.Enabled || a.Name == "" {
					t.Errorf("account %s: enabled %v, name %q; want enabled and named", a, a.Enabled, a.Name)
				}
			}
		})
	}

	f, err := Parse("config.toml", []byte(seedExamples["readme"]))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.Accounts); n != 4 {
		t.Fatalf("got %d accounts, want 4", n)
	}
	for i, a := range f.Accounts {
		if (a.Proxy != nil) != (i == 3) {
			t.Errorf("accounts[%d].Proxy = %v, want one on the last account only", i, a.Proxy)
		}
	}
	if p := f.Accounts[3].Proxy; p.Username != "user" || p.Password != "pass" {
		t.Errorf("proxy credentials = %q %q, want user pass (decoded)", p.Username, p.Password)
	}
	if f.Session.RateLimitCooldownSeconds != DefaultRateLimitCooldownSeconds {
		t.Errorf("absent rate_limit_cooldown_seconds = %d, want the default %d", f.Session.RateLimitCooldownSeconds, DefaultRateLimitCooldownSeconds)
	}
}

func TestDefaults(t *testing.T) {
	for _, doc := range []string{"", "# nothing\n", "[server]\n[session]\n", "server = {}\nsession = {}\n"} {
		f, err := Parse("config.toml", []byte(doc))
		if err != nil {
			t.Fatalf("%q: %v", doc, err)
		}
		want := &File{
			Path: "config.toml",
			Server: Server{
				Host: "127.0.0.1", Port: 3000, LogLevel: "info",
				IdleTimeoutSeconds: 300, MaxBodyBytes: 32 << 20,
			},
			Scheduler: Scheduler{Strategy: "priority", FillThreshold: 0.95},
			Notify:    Notify{RunwayMinutes: DefaultRunwayMinutes},
			Session: Session{
				StickyTTLSeconds: 3600, RenewalThresholdSeconds: 300,
				UnavailableCooldownSeconds: 3600, RateLimitCooldownSeconds: 60,
			},
		}
		if !reflect.DeepEqual(f, want) {
			t.Errorf("%q:\n got %v\nwant %v", doc, f, want)
		}
		if f.Addr() != "127.0.0.1:3000" || f.Server.LogLevelValue() != slog.LevelInfo {
			t.Errorf("%q: Addr %q, level %v; want 127.0.0.1:3000, %v", doc, f.Addr(), f.Server.LogLevelValue(), slog.LevelInfo)
		}
	}

	f, err := Parse("config.toml", []byte("[server]\nport = 4000\n[[accounts]]\ntype = \"claude-api\"\nid = \"a\"\napi_key = \"k\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Server.Host != DefaultHost || f.Server.Port != 4000 {
		t.Errorf("server = %+v, want host %s, port 4000", f.Server, DefaultHost)
	}
	want := Account{Type: "claude-api", ID: "a", Name: "a", Enabled: true, APIKey: "k", AuthHeader: "x-api-key"}
	if !reflect.DeepEqual(f.Accounts[0], want) {
		t.Errorf("account = %v, want %v", f.Accounts[0], want)
	}
}

func TestLogLevelValue(t *testing.T) {
	for level, want := range map[string]slog.Level{
		"trace": slog.LevelDebug - 4, "debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo,
	} {
		if got := (Server{LogLevel: level}).LogLevelValue(); got != want {
			t.Errorf("%q: got %v, want %v", level, got, want)
		}
	}
}

func TestAddrIPv6(t *testing.T) {
	for _, host := range []string{"::1", "[::1]"} {
		f, err := Parse("c.toml", []byte(fmt.Sprintf("[server]\nhost = %q\n", host)))
		if err != nil {
			t.Fatal(err)
		}
		if f.Addr() != "[::1]:3000" {
			t.Errorf("%s: Addr = %q, want [::1]:3000", host, f.Addr())
		}
	}
}

func TestDatabasePath(t *testing.T) {
	abs := filepath.Join(dirtest.New(t), "x.db")
	tests := []struct {
		path, dbPath, want string
	}{
		{"config.toml", "data/relay.db", filepath.Join("data", "relay.db")},
		{filepath.Join("etc", "kp", "config.toml"), "data/relay.db", filepath.Join("etc", "kp", "data", "relay.db")},
		{filepath.Join("etc", "kp", "config.toml"), "../relay.db", filepath.Join("etc", "relay.db")},
		{"/etc/kp/config.toml", "relay.db", filepath.FromSlash("/etc/kp/relay.db")},
		{filepath.Join("etc", "kp", "config.toml"), abs, abs},
		{"", "data/relay.db", filepath.Join("data", "relay.db")},
		{filepath.Join("etc", "kp", "config.toml"), "", ""},
	}
	for _, tt := range tests {
		doc := fmt.Sprintf("[server]\ndatabase_path = %q\n", tt.dbPath)
		f, err := Parse(tt.path, []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if f.Server.DatabasePath != tt.want {
			t.Errorf("Parse(%q) with database_path %q: got %q, want %q", tt.path, tt.dbPath, f.Server.DatabasePath, tt.want)
		}
	}
}

// An account block that is valid on its own, to build error cases from.
const okAccount = `[[accounts]]
type = "claude-api"
id = "main"
api_key = "sk-s3cr3t-main"
`

// errorCases each hold a document with one problem; the line the error
// must point at carries the marker "# <-".
var errorCases = []struct {
	name string
	doc  string
	key  string // Error.Key, exactly
	msg  string // substring of Error.Msg
}{
	{"syntax", "api_keys = [\"k\"]\n[server # <-\nport = 1\n", "", "expected ']'"},
	{"syntax unquoted secret", "[[accounts]]\ntype = \"claude-api\"\napi_key = sk-s3cr3t # <-\n", "", "unexpected character"},
	{"syntax unterminated string", "[[accounts]]\napi_key = \"sk-s3cr3t # <-\n", "", ""},
	{"unknown top-level key", "api_keys = [\"k\"]\nprot = 3000 # <-\n", "prot", "unknown key at the top level"},
	{"unknown table", "[sever] # <-\nport = 1\n", "sever", `unknown table at the top level; did you mean "server"?`},
	{"unknown key in server", "[server]\nhost = \"127.0.0.1\"\nprot = 3000 # <-\n", "server.prot", `unknown key in [server]; did you mean "port"?`},
	{"unknown key in server, no suggestion", "[server]\nwhatever = 1 # <-\n", "server.whatever", "allowed: host, port, database_path"},
	{"unknown dotted key", "server.prot = 1 # <-\n", "server.prot", `did you mean "port"?`},
	{"unknown key in session", "[session]\nsticky_ttl = 5 # <-\n", "session.sticky_ttl", `in [session]; did you mean "sticky_ttl_seconds"?`},
	{"api_keys after [server]", "[server]\nport = 3000\napi_keys = [\"k\"] # <-\n", "server.api_keys", "must come before the first [table]"},
	{"unknown key in account", okAccount + "zz = 1 # <-\n", "accounts[0].zz", "unknown key in [[accounts]]; allowed: type, id, name"},
	{"unknown key in second account", okAccount + okAccount + "apikey = \"sk-s3cr3t\" # <-\n", "accounts[1].apikey", `did you mean "api_key"?`},
	{"unknown key in proxy", okAccount + "[accounts.proxy]\ntype = \"socks5\"\nhost = \"h\"\nport = 1\npasword = \"s3cr3t\" # <-\n", "accounts[0].proxy.pasword", `in [accounts.proxy]; did you mean "password"?`},
	{"unknown key in inline proxy", okAccount + "proxy = { type = \"http\", host = \"h\", port = 1, hots = \"x\" } # <-\n", "accounts[0].proxy.hots", `did you mean "host"?`},
	{"unknown key in inline account", "accounts = [\n  { type = \"gemini\", id = \"g\", refresh_token = \"s3cr3t\" },\n  { typ = \"gemini\" }, # <-\n]\n", "accounts[1].typ", `did you mean "type"?`},
	{"proxy before any account", "api_keys = [\"k\"]\n[accounts.proxy] # <-\ntype = \"http\"\n" + okAccount, "accounts.proxy", "comes before any; move it below the [[accounts]]"},
	{"known key misused", "accounts.x = 1 # <-\n", "accounts", "expected an array of tables"},
	{"type mismatch port", "[server]\nport = \"abc\" # <-\n", "server.port", "expected an integer, got a string"},
	{"type mismatch float", "[server]\nmax_body_bytes = 1e6 # <-\n", "server.max_body_bytes", "expected an integer, got a float"},
	{"type mismatch enabled", okAccount + "enabled = \"yes\" # <-\n", "accounts[0].enabled", "expected a boolean (true or false), got a string"},
	{"type mismatch api_key", "[[accounts]]\nid = \"x\"\napi_key = 12345 # <-\n", "accounts[0].api_key", "expected a string, got an integer"},
	{"type mismatch api_keys", "api_keys = \"s3cr3t\" # <-\n", "api_keys", "expected an array of strings, got a string"},
	{"type mismatch api_keys element", "api_keys = [\n  \"s3cr3t\",\n  7, # <-\n]\n", "api_keys[1]", "expected a string, got an integer"},
	{"type mismatch server", "server = 5 # <-\n", "server", "expected a table, got an integer"},
	{"type mismatch inline account", "accounts = [{ id = \"a\" }, { type = 1 }] # <-\n", "accounts[1].type", "expected a string, got an integer"},
	{"array table for a table", "[[server]] # <-\n", "server", "expected a table, got an array table"},
	{"integer too large", "[server]\nport = 99999999999999999999 # <-\n", "server.port", "too large"},
	{"duplicate key", "[server]\nport = 1\nport = 2 # <-\n", "server.port", "defined more than once"},
	{"missing id", "api_keys = [\"k\"]\n\n[[accounts]] # <-\ntype = \"claude-api\"\napi_key = \"sk-s3cr3t\"\n", "accounts[0].id", "missing; every account needs a unique id"},
	{"empty id", "[[accounts]]\ntype = \"claude-api\"\nid = \"\" # <-\napi_key = \"sk-s3cr3t\"\n", "accounts[0].id", "must not be empty"},
	{"converted_traffic on an API key", okAccount + "converted_traffic = true # <-\n", "accounts[0].converted_traffic", "only a subscription (claude-oauth) opts into converted chat"},
	{"allow_overage on an API key", okAccount + "allow_overage = true # <-\n", "accounts[0].allow_overage", "only a subscription with paid extra usage (claude-oauth) can serve on it"},
	{"allow_overage not a boolean", okAccount + "allow_overage = \"yes\" # <-\n", "accounts[0].allow_overage", "expected a boolean (true or false), got a string"},
	{"negative paid cap", "[spend]\npaid_daily_usd = -1 # <-\n", "spend.paid_daily_usd", "must not be negative: a daily cap in USD on paid answers, 0 for none"},
	{"paid cap not a number", "[spend]\npaid_daily_usd = \"5\" # <-\n", "spend.paid_daily_usd", "expected a number (USD; 0: no cap), got a string"},
	{"unknown key in spend", "[spend]\npaid_daily = 5 # <-\n", "spend.paid_daily", `did you mean "paid_daily_usd"?`},
	{"runway warning too long", "[notify]\nrunway_minutes = 20000 # <-\n", "notify.runway_minutes", "must be between 0 (off) and 10080 (a week), got 20000"},
	{"runway warning negative", "[notify]\nrunway_minutes = -5 # <-\n", "notify.runway_minutes", "must be between 0 (off)"},
	{"runway warning not an integer", "[notify]\nrunway_minutes = 2.5 # <-\n", "notify.runway_minutes", "expected an integer, got a float"},
	{"project on an API key", okAccount + "project = \"my-proj\" # <-\n", "accounts[0].project", "only a Google login (gemini) has a Code Assist project"},
	{"empty model", okAccount + "models = [\"claude-*\", \" \"] # <-\n", "accounts[0].models[1]", "must not be empty"},
	{"models not an array", okAccount + "models = \"claude-*\" # <-\n", "accounts[0].models", "expected an array of strings, got a string"},
	{"bad id", "[[accounts]]\ntype = \"claude-api\"\nid = \"my key\" # <-\napi_key = \"sk-s3cr3t\"\n", "accounts[0].id", `"my key" may only contain`},
	{"missing api_key", okAccount + "\n[[accounts]] # <-\ntype = \"claude-api\"\nid = \"backup\"\npriority = 1\n", "accounts[1].api_key", `account "backup" has no api_key; type claude-api requires one`},
	{"missing api_key openai-responses", "[[accounts]] # <-\ntype = \"openai-responses\"\nid = \"o\"\n", "accounts[0].api_key", "type openai-responses requires one"},
	{"missing api_key gemini-api", "[[accounts]] # <-\ntype = \"gemini-api\"\nid = \"g\"\nrefresh_token = \"s3cr3t\"\n", "accounts[0].api_key", "type gemini-api requires one"},
	{"empty api_key", "[[accounts]]\ntype = \"claude-api\"\nid = \"a\"\napi_key = \"\" # <-\n", "accounts[0].api_key", "must not be empty"},
	{"missing oauth token", "[[accounts]] # <-\ntype = \"gemini\"\nid = \"g\"\napi_key = \"s3cr3t\"\n", "accounts[0].refresh_token", `account "g" has no refresh_token or access_token; type gemini requires one`},
	{"empty refresh_token", "[[accounts]]\ntype = \"codex-oauth\"\nid = \"c\"\nrefresh_token = \"\" # <-\n", "accounts[0].refresh_token", "must not be empty"},
	{"duplicate id", okAccount + "\n[[accounts]]\ntype = \"claude-api\"\nid = \"main\" # <-\napi_key = \"sk-s3cr3t-2\"\n", "accounts[1].id", `duplicate id "main" (already used by accounts[0] on line 1)`},
	{"missing type", "[[accounts]] # <-\nid = \"x\"\napi_key = \"sk-s3cr3t\"\n", "accounts[0].type", `account "x" has no type; set one of claude-oauth, claude-api`},
	{"bad type", "[[accounts]]\ntype = \"claude\" # <-\nid = \"x\"\napi_key = \"sk-s3cr3t\"\n", "accounts[0].type", `"claude" is not one of claude-oauth, claude-api, codex-oauth`},
	{"bad auth_header", okAccount + "auth_header = \"basic\" # <-\n", "accounts[0].auth_header", `"basic" is not one of x-api-key, bearer`},
	{"api_url without scheme", okAccount + "api_url = \"api.anthropic.com\" # <-\n", "accounts[0].api_url", "must be an absolute http or https URL"},
	{"api_url ftp", okAccount + "api_url = \"ftp://example.com\" # <-\n", "accounts[0].api_url", "must be an absolute http or https URL"},
	{"api_url relative", okAccount + "api_url = \"/v1\" # <-\n", "accounts[0].api_url", "must be an absolute http or https URL"},
	{"api_url with credentials", okAccount + "api_url = \"https://user:s3cr3t@example.com\" # <-\n", "accounts[0].api_url", "must not contain a user name or password"},
	{"api_url with query", okAccount + "api_url = \"https://example.com/?key=s3cr3t\" # <-\n", "accounts[0].api_url", "must not have a query"},
	{"openai-compatible without api_url", "[[accounts]] # <-\ntype = \"openai-compatible\"\nid = \"o\"\napi_key = \"s3cr3t\"\n", "accounts[0].api_url", "type openai-compatible requires one"},
	{"bad proxy type", okAccount + "[accounts.proxy]\ntype = \"https\" # <-\nhost = \"h\"\nport = 1\n", "accounts[0].proxy.type", `"https" is not one of socks5, http`},
	{"proxy without type", okAccount + "[accounts.proxy] # <-\nhost = \"h\"\nport = 1\n", "accounts[0].proxy.type", "missing; set one of socks5, http"},
	{"proxy without host", okAccount + "[accounts.proxy] # <-\ntype = \"socks5\"\nport = 1080\n", "accounts[0].proxy.host", "missing"},
	{"proxy without port", okAccount + "[accounts.proxy] # <-\ntype = \"socks5\"\nhost = \"h\"\n", "accounts[0].proxy.port", "missing"},
	{"proxy port 0", okAccount + "[accounts.proxy]\ntype = \"socks5\"\nhost = \"h\"\nport = 0 # <-\n", "accounts[0].proxy.port", "must be between 1 and 65535, got 0"},
	{"proxy password without username", okAccount + "[accounts.proxy]\ntype = \"http\"\nhost = \"h\"\nport = 8080\npassword = \"s3cr3t\" # <-\n", "accounts[0].proxy.password", "is set but username is not"},
	{"port 0", "[server]\nport = 0 # <-\n", "server.port", "must be between 1 and 65535, got 0"},
	{"port 70000", "[server]\nport = 70000 # <-\n", "server.port", "must be between 1 and 65535, got 70000"},
	{"port negative", "[server]\nport = -1 # <-\n", "server.port", "got -1"},
	{"open host without api_keys", "[server]\nhost = \"0.0.0.0\" # <-\n", "server.host", "host 0.0.0.0 is reachable from other machines; set api_keys so only your clients can use the relay"},
	{"open host with empty api_keys", "api_keys = []\n[server]\nhost = \"192.168.1.5\" # <-\n", "server.host", "host 192.168.1.5 is reachable from other machines"},
	{"open IPv6 host", "[server]\nhost = \"::\" # <-\n", "server.host", "reachable from other machines"},
	{"empty host", "[server]\nhost = \"\" # <-\n", "server.host", "must not be empty"},
	{"bad host", "api_keys = [\"k\"]\n[server]\nhost = \"http://x\" # <-\n", "server.host", "is not a host name or IP address"},
	{"empty client key", "api_keys = [\n  \"s3cr3t\",\n  \"\", # <-\n]\n", "api_keys[1]", "must not be empty"},
	{"bad log_level", "[server]\nlog_level = \"verbose\" # <-\n", "server.log_level", `"verbose" is not one of trace, debug, info, warn, error`},
	{"idle timeout 0", "[server]\nidle_timeout_seconds = 0 # <-\n", "server.idle_timeout_seconds", "must be between 1 and"},
	{"max body 0", "[server]\nmax_body_bytes = 0 # <-\n", "server.max_body_bytes", "must be positive"},
	{"negative ttl", "[session]\nsticky_ttl_seconds = -1 # <-\nrenewal_threshold_seconds = 0\n", "session.sticky_ttl_seconds", "must be between 0 and"},
	{"negative cooldown", "[session]\nrate_limit_cooldown_seconds = -60 # <-\n", "session.rate_limit_cooldown_seconds", "got -60"},
	{"huge cooldown", "[session]\nunavailable_cooldown_seconds = 9999999999 # <-\n", "session.unavailable_cooldown_seconds", "must be between 0 and"},
	{"renewal above ttl", "[session]\nsticky_ttl_seconds = 600\nrenewal_threshold_seconds = 900 # <-\n", "session.renewal_threshold_seconds", "900 is larger than sticky_ttl_seconds (600)"},
	{"tls_cert without tls_key", "[server]\ntls_cert = \"cert.pem\" # <-\n", "server.tls_cert", "tls_cert and tls_key go together"},
	{"tls_key without tls_cert", "[server] # <-\ntls_key = \"key.pem\"\n", "server.tls_cert", "tls_cert and tls_key go together"},
	{"public_name with a port", "api_keys = [\"k\"]\n[server]\npublic_name = \"kp.example.com:443\" # <-\n", "server.public_name", "is not a host name"},
	{"public_name with a scheme", "api_keys = [\"k\"]\n[server]\npublic_name = \"https://kp.example.com\" # <-\n", "server.public_name", "without scheme or port"},
	{"monitors_need_key without a key", "[server]\nmonitors_need_key = true # <-\n", "server.monitors_need_key", "set api_keys or metrics_token"},
	{"public_name without api_keys", "[server]\npublic_name = \"kp.example.com\" # <-\n", "server.public_name", "set api_keys"},
	{"renewal above default ttl", "[session]\nrenewal_threshold_seconds = 4000 # <-\n", "session.renewal_threshold_seconds", "larger than sticky_ttl_seconds (3600)"},
}

// markedLine is the 1-based line of doc that carries "# <-".
func markedLine(t testing.TB, doc string) int {
	t.Helper()
	line := 0
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, "# <-") {
			if line != 0 {
				t.Fatalf("%q has two lines marked # <-, want one", doc)
			}
			line = i + 1
		}
	}
	if line == 0 {
		t.Fatalf("%q has no line marked # <-, want one", doc)
	}
	return line
}

func TestErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			line := markedLine(t, tt.doc)
			f, err := Parse("config.toml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse = %v, nil; want an error", f)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a *config.Error", err, err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("want one error, got:\n%s", msg)
			}
			if ce.File != "config.toml" || ce.Line != line || ce.Key != tt.key || !strings.Contains(ce.Msg, tt.msg) {
				t.Errorf("got file %q line %d key %q msg %q\nwant line %d key %q msg containing %q",
					ce.File, ce.Line, ce.Key, ce.Msg, line, tt.key, tt.msg)
			}
			prefix := fmt.Sprintf("config.toml:%d:", line)
			if tt.key != "" {
				prefix = fmt.Sprintf("config.toml:%d: %s: ", line, tt.key)
			}
			if !strings.HasPrefix(msg, prefix) {
				t.Errorf("Error() = %q, want prefix %q", msg, prefix)
			}
			if strings.Contains(msg, "s3cr3t") {
				t.Errorf("Error() = %q, want no secret in it", msg)
			}
			if strings.Contains(msg, "struct") || strings.Contains(msg, "config.raw") {
				t.Errorf("Error() = %q, want no Go types in it", msg)
			}
			t.Log(msg)
		})
	}
}

func TestSyntaxErrorColumn(t *testing.T) {
	_, err := Parse("c.toml", []byte("[server]\nport = = 1\n"))
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 2 || ce.Col != 8 || ce.Key != "" {
		t.Fatalf("err = %#v, want a *config.Error at line 2, column 8, with no key", err)
	}
	if !strings.HasPrefix(err.Error(), "c.toml:2:8: ") {
		t.Errorf("Error() = %q, want prefix %q", err, "c.toml:2:8: ")
	}
}

func TestSeveralErrors(t *testing.T) {
	doc := `[session]
renewal_threshold_seconds = 9000
[server]
port = 0
host = "0.0.0.0"
[[accounts]]
type = "claude-api"
`
	_, err := Parse("c.toml", []byte(doc))
	if err == nil {
		t.Fatal("Parse: err = nil, want five errors")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		"c.toml:2: session.renewal_threshold_seconds: ",
		"c.toml:4: server.port: ",
		"c.toml:5: server.host: ",
		"c.toml:6: accounts[0].id: ",
		"c.toml:6: accounts[0].api_key: ",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 2 {
		t.Errorf("errors.As gives %v, want the first error (line 2)", ce)
	}

	// Every unknown key is reported, one per line.
	_, err = Parse("c.toml", []byte("a = 1\n[server]\nb = 2\n"))
	if got := strings.Count(err.Error(), "\n") + 1; got != 2 {
		t.Errorf("want 2 unknown keys, got:\n%s", err)
	}
}

func TestValidHosts(t *testing.T) {
	for _, doc := range []string{
		"[server]\nhost = \"localhost\"\n",
		"[server]\nhost = \"127.0.0.2\"\n",
		"[server]\nhost = \"::1\"\n",
		"api_keys = [\"k\"]\n[server]\nhost = \"0.0.0.0\"\n",
		"api_keys = [\"k\"]\n[server]\nhost = \"relay.lan\"\n",
	} {
		if _, err := Parse("c.toml", []byte(doc)); err != nil {
			t.Errorf("Parse(%q): %v, want nil", doc, err)
		}
	}
}

func TestBOMAndCRLF(t *testing.T) {
	doc := "\uFEFFapi_keys = [\"k\"]\r\n[server]\r\nport = 0\r\n"
	_, err := Parse("c.toml", []byte(doc))
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 3 || ce.Key != "server.port" {
		t.Fatalf("err = %v, want server.port at line 3", err)
	}
	if _, err := Parse("c.toml", []byte("\uFEFF[server]\r\nport = 1\r\n")); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := dirtest.New(t)
	path := filepath.Join(dir, "config.toml")
	var ce *Error
	if err := os.WriteFile(path, []byte(seedExamples["minimal"]+"[server.extra]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if !errors.As(err, &ce) || ce.File != path || ce.Key != "server.extra" || ce.Line != 14 {
		t.Errorf("unknown table: err = %v, want server.extra at line 14 of %s", err, path)
	}

	if err := os.WriteFile(path, []byte(seedExamples["minimal"]+"[server]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(path)
	if !errors.As(err, &ce) || ce.Line != 14 {
		t.Errorf("table defined twice: err = %v, want one at line 14", err)
	}

	if err := os.WriteFile(path, []byte("[server]\ndatabase_path = \"relay.db\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path || f.Server.DatabasePath != filepath.Join(dir, "relay.db") {
		t.Errorf("path %q, database %q; want %q, %q", f.Path, f.Server.DatabasePath, path, filepath.Join(dir, "relay.db"))
	}

	missing := filepath.Join(dir, "nope.toml")
	_, err = Load(missing)
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), missing+": ") {
		t.Errorf("missing file: err = %v, want a *config.Error wrapping fs.ErrNotExist, starting %q", err, missing+": ")
	}
}

func TestExampleFile(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Accounts) != 2 || len(f.APIKeys) == 0 {
		t.Fatalf("example has %d accounts and %d api_keys, want 2 and some", len(f.Accounts), len(f.APIKeys))
	}
	m := f.Accounts[1]
	if m.AuthHeader != AuthHeaderBearer || m.APIURL == "" || m.Proxy == nil ||
		m.Proxy.Type != ProxySOCKS5 || m.Proxy.Username == "" || m.Proxy.Password == "" {
		t.Errorf("mirror account = %v, want bearer auth, an API URL, a socks5 proxy with credentials", m)
	}

	// The commented-out accounts must be valid too once uncommented.
	data, err := os.ReadFile(filepath.Join("..", "..", "config.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(string(data), "\n") {
		switch {
		case strings.HasPrefix(l, "# # "):
			l = strings.TrimPrefix(l, "# ")
		case strings.HasPrefix(l, "# [") || strings.HasPrefix(l, "# ") && strings.Contains(l, " = "):
			l = strings.TrimPrefix(l, "# ")
		}
		b.WriteString(l)
	}
	f, err = Parse("uncommented.toml", []byte(b.String()))
	if err != nil {
		t.Fatalf("Parse(uncommented example): %v, want nil\n%s", err, b.String())
	}
	if len(f.Accounts) != 8 {
		t.Errorf("uncommented example has %d accounts, want 8", len(f.Accounts))
	}
	seen := map[string]bool{}
	for _, a := range f.Accounts {
		seen[a.Type] = true
	}
	if len(seen) != 7 {
		t.Errorf("uncommented example covers %d types, want all 7", len(seen))
	}
}

func TestNoSecretsPrinted(t *testing.T) {
	f, err := Parse("c.toml", []byte(fullFile))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		out = append(out,
			fmt.Sprintf(verb, f), fmt.Sprintf(verb, *f), fmt.Sprintf(verb, f.Accounts),
			fmt.Sprintf(verb, f.Accounts[1]), fmt.Sprintf(verb, &f.Accounts[1]),
			fmt.Sprintf(verb, f.Accounts[1].Proxy), fmt.Sprintf(verb, *f.Accounts[1].Proxy))
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("loaded", "file", f, "account", f.Accounts[1], "ptr", &f.Accounts[2], "proxy", f.Accounts[1].Proxy)
	text := slog.New(slog.NewTextHandler(&buf, nil))
	text.Info("loaded", "file", *f, "accounts", f.Accounts[0])
	out = append(out, buf.String())
	for _, s := range out {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("printed %s, want no secret in it", s)
		}
	}
	if s := f.Accounts[1].String(); !strings.Contains(s, "api_key=set") || !strings.Contains(s, "socks5://127.0.0.1:1080") {
		t.Errorf("String() = %s, want api_key=set and socks5://127.0.0.1:1080 in it", s)
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range errorCases {
		f.Add([]byte(tt.doc))
	}
	for _, doc := range seedExamples {
		f.Add([]byte(doc))
	}
	f.Add([]byte(fullFile))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.toml", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a *config.Error", err, err)
			}
			for _, l := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(l, "fuzz.toml") {
					t.Fatalf("error line %q, want it to start with fuzz.toml", l)
				}
			}
			return
		}
		if cfg.Server.Port < 1 || cfg.Server.Port > 65535 || cfg.Server.Host == "" {
			t.Fatalf("server accepted: %+v, want a port in 1–65535 and a host", cfg.Server)
		}
		if cfg.Session.RenewalThresholdSeconds > cfg.Session.StickyTTLSeconds {
			t.Fatalf("session accepted: %+v, want renewal_threshold_seconds ≤ sticky_ttl_seconds", cfg.Session)
		}
		ids := map[string]bool{}
		for _, a := range cfg.Accounts {
			if a.ID == "" || ids[a.ID] {
				t.Fatalf("account accepted: %v, want a non-empty, unique id", a)
			}
			ids[a.ID] = true
		}
		_ = cfg.Addr()
		_ = cfg.String()
	})
}

func TestSchedulerTable(t *testing.T) {
	f, err := Parse("c.toml", []byte("[scheduler]\nstrategy = \"Fill-First\"\nfill_threshold = 0.9\navoid_runout_minutes = 30\n"))
	if err != nil || f.Scheduler.Strategy != "fill-first" || f.Scheduler.FillThreshold != 0.9 || f.Scheduler.AvoidRunoutMinutes != 30 {
		t.Fatalf("Parse = %+v, %v; want strategy fill-first, fill_threshold 0.9, avoid_runout_minutes 30", f, err)
	}
	for _, bad := range []string{"[scheduler]\nstrategy = \"random\"\n", "[scheduler]\nfill_threshold = 2\n",
		"[scheduler]\navoid_runout_minutes = -5\n", "[scheduler]\navoid_runout_minutes = 20000\n"} {
		_, err := Parse("c.toml", []byte(bad))
		var ce *Error
		if !errors.As(err, &ce) || ce.Line != 2 || !strings.HasPrefix(ce.Key, "scheduler.") {
			t.Errorf("Parse(%q): err = %v, want a scheduler.* error at line 2", bad, err)
		}
	}
}

// TestAccountAdditions: the settings the window gives an account can be
// written in the file too, so a config account and a stored one match.
func TestAccountAdditions(t *testing.T) {
	doc := `[[accounts]]
type = "claude-oauth"
id = "max"
refresh_token = "refresh-s3cr3t"
converted_traffic = true
allow_overage = true
models = ["claude-opus-*", " claude-sonnet-* "]

[[accounts]]
type = "gemini"
id = "g"
refresh_token = "refresh-s3cr3t"
project = "my-project-123"
`
	f, err := Parse("config.toml", []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	sub, g := f.Accounts[0], f.Accounts[1]
	if !sub.ConvertedTraffic || !reflect.DeepEqual(sub.Models, []string{"claude-opus-*", "claude-sonnet-*"}) || sub.Project != "" {
		t.Errorf("max: converted %v, models %q, project %q; want true, [claude-opus-* claude-sonnet-*], \"\"", sub.ConvertedTraffic, sub.Models, sub.Project)
	}
	if !sub.AllowOverage || g.AllowOverage {
		t.Errorf("allow_overage: max %v, g %v; want true, false (the default)", sub.AllowOverage, g.AllowOverage)
	}
	if g.Project != "my-project-123" || g.ConvertedTraffic || g.Models != nil {
		t.Errorf("g: project %q, converted %v, models %q; want my-project-123, false, none", g.Project, g.ConvertedTraffic, g.Models)
	}
}

// The keys for a relay beyond one machine: certificate paths resolve
// against the config file's folder like database_path, the public name is
// kept lower case, and the metrics token, a secret, never prints.
func TestServerAdditions(t *testing.T) {
	doc := `api_keys = ["k"]
[server]
tls_cert = "tls/cert.pem"
tls_key = "/etc/keypool/key.pem"
public_name = " KP.Example.com "
metrics_token = "metrics-s3cr3t"
`
	f, err := Parse(filepath.Join("etc", "kp", "config.toml"), []byte(doc))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Server{TLSCert: filepath.Join("etc", "kp", "tls", "cert.pem"), TLSKey: filepath.FromSlash("/etc/keypool/key.pem"), PublicName: "kp.example.com"}
	if got := f.Server; got.TLSCert != want.TLSCert || got.TLSKey != want.TLSKey || got.PublicName != want.PublicName || !got.TLS() {
		t.Errorf("server: tls_cert %q, tls_key %q, public_name %q, TLS %v; want %q, %q, %q, true",
			got.TLSCert, got.TLSKey, got.PublicName, got.TLS(), want.TLSCert, want.TLSKey, want.PublicName)
	}
	if f.MetricsToken != "metrics-s3cr3t" {
		t.Errorf("MetricsToken = %q, want metrics-s3cr3t", f.MetricsToken)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("loaded", "file", f, "server", f.Server)
	for _, s := range []string{fmt.Sprintf("%+v", f), fmt.Sprintf("%#v", *f), buf.String()} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("printed %s, want no metrics token in it", s)
		}
	}
	if f, err := Parse("c.toml", nil); err != nil || f.Server.TLS() || f.Server.PublicName != "" || f.MetricsToken != "" {
		t.Errorf("defaults: %+v, %v; want no TLS, no public name, no metrics token", f, err)
	}
}

// [spend] and [notify]: no cap on paid answers and a 30-minute runway
// warning unless the file says otherwise; 0 turns the warning off.
func TestSpendAndNotify(t *testing.T) {
	tests := []struct {
		doc     string
		paid    float64
		minutes int
	}{
		{"", 0, DefaultRunwayMinutes},
		{"[spend]\npaid_daily_usd = 5.5\n[notify]\nrunway_minutes = 45\n", 5.5, 45},
		{"[notify]\nrunway_minutes = 0\n", 0, 0},
	}
	for _, tt := range tests {
		f, err := Parse("config.toml", []byte(tt.doc))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.doc, err)
		}
		if f.Spend.PaidDailyUSD != tt.paid || f.Notify.RunwayMinutes != tt.minutes {
			t.Errorf("Parse(%q): paid %g, runway %d; want %g, %d", tt.doc, f.Spend.PaidDailyUSD, f.Notify.RunwayMinutes, tt.paid, tt.minutes)
		}
	}
}
