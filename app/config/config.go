// Package config reads the seed-format TOML configuration file (the format of
// the Rust relay's config.toml, plus a few optional Keypool keys) into a
// validated File.
//
// Decoding is strict: an unknown key, a value of the wrong type or a value
// that fails validation is reported as an *Error that names the file, the
// line and the key. Secret values (client api_keys, account api_key,
// refresh_token, access_token and proxy password) never appear in an error,
// and Account, Proxy and File print and log themselves without them.
package config

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// Values of Account.AuthHeader.
const (
	AuthHeaderXAPIKey = "x-api-key"
	AuthHeaderBearer  = "bearer"
)

// Values of Proxy.Type.
const (
	ProxySOCKS5 = "socks5"
	ProxyHTTP   = "http"
)

// Defaults applied to keys that are absent from the file.
const (
	DefaultHost                             = "127.0.0.1"
	DefaultPort                             = 3000
	DefaultLogLevel                         = "info"
	DefaultIdleTimeoutSeconds               = 300
	DefaultMaxBodyBytes               int64 = 32 << 20
	DefaultStickyTTLSeconds                 = 3600
	DefaultRenewalThresholdSeconds          = 300
	DefaultUnavailableCooldownSeconds       = 3600
	DefaultRateLimitCooldownSeconds         = 60
)

// File is a decoded and validated configuration file.
type File struct {
	// APIKeys are the keys local clients must present. Empty means no
	// authentication (only allowed when the relay listens on loopback).
	APIKeys  []string `json:"-"`
	Server   Server
	Session  Session
	Accounts []Account
	// ClientBudgets caps what a client key spends a day, in USD, keyed by
	// the key itself (Keypool addition, [client_budgets]).
	ClientBudgets map[string]float64 `json:"-"`
	// Scheduler is how equal-priority accounts share work (Keypool
	// addition, [scheduler]).
	Scheduler Scheduler
	// Spend caps paid answers (Keypool addition, [spend]).
	Spend Spend
	// Notify says when the desktop app warns (Keypool addition, [notify]).
	Notify Notify
	// Updates says whether Keypool looks for a newer version (Keypool
	// addition, [updates]).
	Updates Updates
	// Models maps a model name clients use to the one sent upstream
	// (Keypool addition, [models]).
	Models map[string]string `json:"-"`
	// AllowedModels limits a client key to matching models ("*" wildcards),
	// keyed by the key itself (Keypool addition, [allowed_models]).
	AllowedModels map[string][]string `json:"-"`
	// MetricsToken, [server] metrics_token, lets a monitor read /health and
	// /metrics from beyond loopback without a client key (Keypool
	// addition). It is a secret: it lives here, not in Server, which
	// prints itself whole.
	MetricsToken string `json:"-"`
	// Path is the path the file was read from, as given to Load or Parse.
	Path string
}

// Server is the [server] table.
type Server struct {
	Host string
	Port int
	// DatabasePath is empty when the file does not set it (the caller picks
	// the default); a relative path in the file has been resolved against
	// the directory of the config file.
	DatabasePath string
	// LogLevel is one of trace, debug, info, warn, error (lower case).
	LogLevel string
	// IdleTimeoutSeconds is a Keypool addition: the idle timeout on upstream
	// and client connections (never a total timeout).
	IdleTimeoutSeconds int
	// MaxBodyBytes is a Keypool addition: the largest request body accepted.
	MaxBodyBytes int64
	// TLSCert and TLSKey are PEM files to serve HTTPS with (Keypool
	// additions; both or neither), resolved like DatabasePath.
	TLSCert, TLSKey string
	// PublicName is the host name clients beyond this machine use (a
	// reverse proxy's or tailnet's), accepted in the Host header (Keypool
	// addition).
	PublicName string
	// MonitorsNeedKey, [server] monitors_need_key, makes /health and
	// /metrics need a client key or the metrics token from this machine
	// too (Keypool addition): for a server where something forwards
	// connections to the relay without saying whose they are.
	MonitorsNeedKey bool
}

// TLS reports whether the relay serves HTTPS.
func (s Server) TLS() bool { return s.TLSCert != "" }

// Scheduler is the [scheduler] table.
type Scheduler struct {
	Strategy      string  // priority (default), fill-first or spread
	FillThreshold float64 // 0..1, default 0.95
	// AvoidRunoutMinutes: a new conversation skips an account forecast to
	// run out within this many minutes when another can serve it (0: off).
	AvoidRunoutMinutes int
}

// Spend is the [spend] table.
type Spend struct {
	// PaidDailyUSD caps what paid answers (API keys, a subscription's
	// paid extra usage) may cost in a day, pool-wide; past it only plans
	// serve until midnight (0: no cap, the default).
	PaidDailyUSD float64
}

// Notify is the [notify] table.
type Notify struct {
	// RunwayMinutes: warn once when a protocol's pool runway forecast drops
	// under this many minutes (0: never; default DefaultRunwayMinutes).
	RunwayMinutes int
}

// Updates is the [updates] table.
type Updates struct {
	// Check: look for a newer Keypool once a day. nil when the file does
	// not say, and the app's own setting (off until the user turns it
	// on) decides.
	Check *bool
	// URL is the signed release manifest's address ("": the project's
	// release feed).
	URL string
}

// DefaultRunwayMinutes is [notify] runway_minutes when the file does not
// set it.
const DefaultRunwayMinutes = 30

// Session is the [session] table. All values are in seconds.
type Session struct {
	StickyTTLSeconds           int
	RenewalThresholdSeconds    int
	UnavailableCooldownSeconds int
	RateLimitCooldownSeconds   int
}

// Account is one [[accounts]] entry. Secret fields are tagged json:"-" and
// left out of String, Format and LogValue.
type Account struct {
	Type     string
	ID       string
	Name     string // defaults to ID
	Priority int    // larger is preferred
	Enabled  bool   // defaults to true

	APIKey       string `json:"-"`
	RefreshToken string `json:"-"`
	AccessToken  string `json:"-"`

	// APIURL is empty or an absolute http(s) URL without a trailing slash.
	APIURL string
	// AuthHeader is AuthHeaderXAPIKey (the default) or AuthHeaderBearer. It
	// only matters for claude-api accounts.
	AuthHeader string
	Proxy      *Proxy
	// DailyBudgetUSD and MonthlyBudgetUSD cap an account's spending
	// (Keypool additions; 0: none).
	DailyBudgetUSD, MonthlyBudgetUSD float64
	// Models limits the account to matching model names ("*" wildcards;
	// none: every model), Project names a Google login's Code Assist
	// project, and ConvertedTraffic lets a subscription answer OpenAI-format
	// chat: the settings the window and keypool accounts give an account
	// (Keypool additions).
	Models           []string
	Project          string
	ConvertedTraffic bool
	// AllowOverage lets a subscription serve on paid extra usage once its
	// plan is spent (Keypool addition; off by default).
	AllowOverage bool
}

// Proxy is an account's [accounts.proxy] table.
type Proxy struct {
	Type     string // ProxySOCKS5 or ProxyHTTP
	Host     string
	Port     int
	Username string
	Password string `json:"-"`
}

// Load reads and parses the config file at path.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error() // the path is already in the prefix
		}
		return nil, &Error{File: path, Msg: "cannot read config: " + msg, err: err}
	}
	return Parse(path, data)
}

// Parse decodes and validates a config file's contents. path is used in error
// messages and to resolve a relative database_path; it is not read.
//
// On failure the error is an *Error, or, when several problems are found, an
// errors.Join of *Error values in file order (one per line of Error(); use
// errors.As to get the first).
func Parse(path string, data []byte) (*File, error) {
	name := path
	if name == "" {
		name = "<config>"
	}
	// Editors on Windows may save a byte-order mark, which TOML does not
	// allow. Blank it out rather than cut it so offsets stay put.
	if bytes.HasPrefix(data, []byte("\uFEFF")) {
		data = append([]byte("   "), data[3:]...)
	}

	raw := defaultRaw()
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	decErr := dec.Decode(&raw)

	// Where each key is; go-toml only reports positions for its own errors.
	pos := scan(data)
	if pos.orphan != nil {
		// Reported before anything go-toml says about it, which would be
		// confusing or, for a file with no [[accounts]], nothing at all.
		e := *pos.orphan
		e.File = name
		return nil, &e
	}
	if decErr != nil {
		return nil, joinErrors(decodeErrors(name, pos, decErr))
	}
	f, errs := validate(name, path, &raw, pos)
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return f, nil
}

// Addr is the address the relay listens on, host:port.
func (f *File) Addr() string {
	return net.JoinHostPort(f.Server.Host, strconv.Itoa(f.Server.Port))
}

// LevelTrace is the slog level used for log_level = "trace".
const LevelTrace = slog.LevelDebug - 4

// LogLevelValue converts LogLevel to a slog.Level; an unknown value gives
// slog.LevelInfo.
func (s Server) LogLevelValue() slog.Level {
	switch strings.ToLower(s.LogLevel) {
	case "trace":
		return LevelTrace
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// The raw types mirror the file. Pointers mark keys whose absence matters.

type rawFile struct {
	APIKeys       []string            `toml:"api_keys"`
	Server        rawServer           `toml:"server"`
	Session       rawSession          `toml:"session"`
	Accounts      []rawAccount        `toml:"accounts"`
	Models        map[string]string   `toml:"models"`
	Scheduler     rawScheduler        `toml:"scheduler"`
	Spend         rawSpend            `toml:"spend"`
	Notify        rawNotify           `toml:"notify"`
	Updates       rawUpdates          `toml:"updates"`
	ClientBudgets map[string]float64  `toml:"client_budgets"`
	AllowedModels map[string][]string `toml:"allowed_models"`
}

type rawSpend struct {
	PaidDailyUSD float64 `toml:"paid_daily_usd"`
}

type rawUpdates struct {
	Check *bool  `toml:"check"`
	URL   string `toml:"url"`
}

type rawNotify struct {
	RunwayMinutes *int `toml:"runway_minutes"`
}

type rawScheduler struct {
	Strategy           string  `toml:"strategy"`
	FillThreshold      float64 `toml:"fill_threshold"`
	AvoidRunoutMinutes int     `toml:"avoid_runout_minutes"`
}

type rawServer struct {
	Host               string `toml:"host"`
	Port               int    `toml:"port"`
	DatabasePath       string `toml:"database_path"`
	LogLevel           string `toml:"log_level"`
	IdleTimeoutSeconds int    `toml:"idle_timeout_seconds"`
	MaxBodyBytes       int64  `toml:"max_body_bytes"`
	TLSCert            string `toml:"tls_cert"`
	TLSKey             string `toml:"tls_key"`
	PublicName         string `toml:"public_name"`
	MetricsToken       string `toml:"metrics_token"`
	MonitorsNeedKey    bool   `toml:"monitors_need_key"`
}

type rawSession struct {
	StickyTTLSeconds           int `toml:"sticky_ttl_seconds"`
	RenewalThresholdSeconds    int `toml:"renewal_threshold_seconds"`
	UnavailableCooldownSeconds int `toml:"unavailable_cooldown_seconds"`
	RateLimitCooldownSeconds   int `toml:"rate_limit_cooldown_seconds"`
}

type rawAccount struct {
	Type         string    `toml:"type"`
	ID           *string   `toml:"id"`
	Name         string    `toml:"name"`
	Priority     int       `toml:"priority"`
	Enabled      *bool     `toml:"enabled"`
	APIKey       *string   `toml:"api_key"`
	RefreshToken *string   `toml:"refresh_token"`
	AccessToken  *string   `toml:"access_token"`
	APIURL       string    `toml:"api_url"`
	AuthHeader   string    `toml:"auth_header"`
	Proxy        *rawProxy `toml:"proxy"`
	DailyBudget  float64   `toml:"daily_budget_usd"`
	MonthBudget  float64   `toml:"monthly_budget_usd"`
	Models       []string  `toml:"models"`
	Project      string    `toml:"project"`
	Converted    bool      `toml:"converted_traffic"`
	AllowOverage bool      `toml:"allow_overage"`
}

type rawProxy struct {
	Type     string `toml:"type"`
	Host     string `toml:"host"`
	Port     *int   `toml:"port"`
	Username string `toml:"username"`
	Password string `toml:"password"`
}

func defaultRaw() rawFile {
	return rawFile{
		Server: rawServer{
			Host:               DefaultHost,
			Port:               DefaultPort,
			LogLevel:           DefaultLogLevel,
			IdleTimeoutSeconds: DefaultIdleTimeoutSeconds,
			MaxBodyBytes:       DefaultMaxBodyBytes,
		},
		Session: rawSession{
			StickyTTLSeconds:           DefaultStickyTTLSeconds,
			RenewalThresholdSeconds:    DefaultRenewalThresholdSeconds,
			UnavailableCooldownSeconds: DefaultUnavailableCooldownSeconds,
			RateLimitCooldownSeconds:   DefaultRateLimitCooldownSeconds,
		},
	}
}
