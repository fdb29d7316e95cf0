package app

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"keypool/app/clients"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/app/version"
	"keypool/relay"
	"keypool/relay/pool"
)

// What the desktop app (package ui) reads and changes goes through this
// file and App's methods, so that ui needs package app alone: the relay and
// the store stay behind it. The types are the relay's and the store's own,
// named here.
type (
	// Account is a stored account: its settings and status, no secret.
	Account = store.Account
	// AccountProxy is a stored account's proxy (its password is in the
	// keychain).
	AccountProxy = store.Proxy
	// DayTotal is one account's and model's traffic on one day; Hour is
	// one hour's requests and cost.
	DayTotal = store.DayTotal
	Hour     = store.Hour
	// Health is the relay's state now: each account's state, cooldowns,
	// plan windows and counts.
	Health        = relay.Health
	AccountHealth = relay.AccountHealth
	CooldownInfo  = relay.CooldownInfo
	StoreHealth   = relay.StoreHealth
	Failure       = relay.Failure
	Counts        = relay.Counts
	Usage         = relay.Usage
	// UsageRecord is one request as it was recorded.
	UsageRecord  = relay.UsageRecord
	FailoverStep = relay.FailoverStep
	// Quota is one plan window as the provider last reported it.
	Quota = pool.Quota
	// PoolRunway is when new work could no longer be served at the
	// recent pace; AccountRunway one account's outlook.
	PoolRunway    = relay.PoolRunway
	AccountRunway = relay.AccountRunway
	// Kind is an account type; Protocol a wire protocol a client speaks.
	Kind     = pool.Kind
	Protocol = pool.Protocol
)

// The account types.
const (
	KindClaudeAPI        = pool.KindClaudeAPI
	KindClaudeOAuth      = pool.KindClaudeOAuth
	KindCodexOAuth       = pool.KindCodexOAuth
	KindOpenAIResponses  = pool.KindOpenAIResponses
	KindOpenAICompatible = pool.KindOpenAICompatible
	KindGemini           = pool.KindGemini
	KindGeminiAPI        = pool.KindGeminiAPI
)

// The protocols clients speak: Claude Code's, Codex's and Gemini CLI's.
const (
	ProtocolAnthropic = pool.ProtocolAnthropic
	ProtocolResponses = pool.ProtocolResponses
	ProtocolGemini    = pool.ProtocolGemini
)

// AccountState is an account's state in Health (AccountHealth.State),
// decided by the relay alone: the window and keypool status read it.
type AccountState = pool.AccountState

// The account states.
const (
	StateReady       = pool.StateReady
	StateCooling     = pool.StateCooling
	StateUnavailable = pool.StateUnavailable
	StateDisabled    = pool.StateDisabled
	StateUnsupported = pool.StateUnsupported
	StateNeedsLogin  = pool.StateNeedsLogin
	StateNeedsKey    = pool.StateNeedsKey
	StateOverage     = pool.StateOverage
	StateStopped     = pool.StateStopped
)

// QuotaText is plan windows in words, joined by sep.
func QuotaText(qs []Quota, sep string) string { return pool.QuotaText(qs, sep) }

// VersionInfo is a build's version: semantic version, commit and date.
type VersionInfo = version.Info

// Version is this build's version (see app/version).
func Version() VersionInfo { return version.Get() }

// Health is the relay's state now.
func (a *App) Health() Health { return a.relay.Health() }

// Paused reports whether the relay is paused.
func (a *App) Paused() bool { return a.relay.Paused() }

// SetPaused pauses the relay (API requests get a 503 saying so) or resumes
// it.
func (a *App) SetPaused(p bool) {
	a.relay.SetPaused(p)
	a.changed()
}

// Changes receives a value when what the window and the tray show may have
// changed: a request was recorded (with whatever it did to its accounts'
// state and quota), accounts or client keys changed, the relay was paused or
// resumed, the keychain locked or opened. Values do not queue up: one
// pending value stands for any number of changes. What changes with time
// alone (a cooldown that ends) sends nothing.
func (a *App) Changes() <-chan struct{} { return a.changes }

// changed notes a change for Changes, without ever blocking.
func (a *App) changed() {
	select {
	case a.changes <- struct{}{}:
	default:
	}
}

// notifyingSink records usage in the store and notes the change. It embeds
// the store so that the relay still sees its StoreHealth.
type notifyingSink struct {
	*store.Store
	notify func()
}

func (n notifyingSink) Record(r relay.UsageRecord) {
	n.Store.Record(r)
	n.notify()
}

// ResetAccount ends an account's cooldowns so it serves again now.
func (a *App) ResetAccount(id string) {
	a.relay.ClearCooldowns(id)
	a.changed()
}

// StoredAccounts lists the accounts the window shows, by priority: the
// app's own, or, serving a config file, that file's (without secrets;
// they change only in the file, see ConfigPath).
func (a *App) StoredAccounts() ([]Account, error) {
	if a.configPath == "" {
		return a.store.Accounts()
	}
	out := make([]Account, 0, len(a.cfg.Accounts))
	for _, ca := range a.cfg.Accounts {
		acct, _ := fromConfig(ca)
		out = append(out, acct)
	}
	slices.SortStableFunc(out, func(x, y Account) int { return y.Priority - x.Priority })
	return out, nil
}

// ConfigPath is the config file whose accounts the app serves, or "" when
// it serves its own (which the window can change).
func (a *App) ConfigPath() string { return a.configPath }

// ErrConfigAccounts is returned for a change to an account that comes from
// a config file: it changes only there.
var ErrConfigAccounts = errors.New("these accounts come from a config file")

// ChangeableAccounts is the app's own accounts, to change; serving a
// config file there are none (ErrConfigAccounts, saying what to do).
func (a *App) ChangeableAccounts() (*Accounts, error) {
	if a.accounts == nil {
		return nil, fmt.Errorf("%w (%s): edit that file and restart Keypool, or move them into Keypool's own accounts with keypool import %s",
			ErrConfigAccounts, a.configPath, a.configPath)
	}
	return a.accounts, nil
}

// UpdateAccount changes a stored account's settings (not its secrets).
func (a *App) UpdateAccount(id string, change func(*Account) error) error {
	return a.store.UpdateAccount(id, change)
}

// Day is every account's and model's traffic on t's local day.
func (a *App) Day(t time.Time) ([]DayTotal, error) { return a.store.Day(t) }

// Hourly totals requests and cost in n hours from start, hour by hour.
func (a *App) Hourly(start time.Time, n int) ([]Hour, error) { return a.store.Hourly(start, n) }

// Latest is the newest n usage records, newest first.
func (a *App) Latest(n int) ([]UsageRecord, error) { return a.store.Latest(n) }

// DatabasePath is the bbolt file the app runs on.
func (a *App) DatabasePath() string { return a.store.Path() }

// The CLIs Keypool can point at itself.
type Client = clients.Client

// The CLIs, in the order they are shown.
const (
	ClaudeCode = clients.ClaudeCode
	Codex      = clients.Codex
	GeminiCLI  = clients.GeminiCLI
)

// Clients lists the CLIs.
var Clients = clients.Clients

// CodexKeyVar is the variable a Codex provider written by hand names as
// its env_key (keypool env codex exports it).
const CodexKeyVar = clients.CodexKeyVar

// ParseClient reads a CLI's name as the commands take it: claude, codex or
// gemini.
func ParseClient(s string) (Client, error) { return clients.ParseClient(s) }

// ClientExports is what points CLI c at the relay acc names, in shell's
// syntax (bash, zsh, fish, powershell or cmd).
func ClientExports(c Client, acc ClientAccess, shell string) (string, error) {
	return clients.Exports(clients.Env(c, acc.Base, acc.Key), shell)
}

// ClientConnected reports whether CLI c's own config points at Keypool.
func ClientConnected(c Client) (bool, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return false, err
	}
	return clients.Connected(home, c)
}

// EnvOverride is a variable of the user's environment that changes what a
// connected CLI does (see clients.EnvOverrides).
type EnvOverride = clients.Override

// ClientEnvOverrides lists the variables, exported here or set in the
// user's shell startup files, that change what CLI c does with Keypool.
func ClientEnvOverrides(c Client) []EnvOverride {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	return clients.EnvOverrides(home, c, os.Environ())
}

// ConnectClientTo writes CLI c's own config to use the relay acc names,
// keeping a backup of the config.
func ConnectClientTo(c Client, acc ClientAccess) error {
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	if acc.StatusLine != "" {
		if c != ClaudeCode {
			return fmt.Errorf("%s has no status line: only Claude Code runs one", c)
		}
		return clients.ConnectClaudeStatusLine(home, acc.Base, acc.Key, acc.StatusLine)
	}
	return clients.Connect(home, c, acc.Base, acc.Key)
}

// DisconnectClient undoes ConnectClientTo byte for byte.
func DisconnectClient(c Client) error {
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	return clients.Disconnect(home, c)
}

// ConnectClient writes CLI c's own config to use this relay, with the
// first client key that works, or undoes it (on false) byte for byte.
func (a *App) ConnectClient(c Client, on bool) error {
	if !on {
		return DisconnectClient(c)
	}
	key, err := a.ClientKeyForCLI()
	if err != nil {
		return err
	}
	return ConnectClientTo(c, ClientAccess{Base: a.URL(), Key: key})
}

// ClientKeyForCLI is the key a CLI is given: the first client key that
// works, or "keypool" when the relay needs none.
func (a *App) ClientKeyForCLI() (string, error) {
	s, err := a.FirstClientKeySecret()
	if err != nil || s.IsZero() {
		return "keypool", err
	}
	return s.Reveal(), nil
}

// Secrets as the window's forms and the commands hand them over.
type (
	Secret      = secrets.Secret
	SecretField = secrets.Field
	// Keychain holds the secrets of the app's own accounts.
	Keychain = secrets.Keychain
)

// NewSecret wraps a value typed into a form.
func NewSecret(v string) Secret { return secrets.New(v) }

// UserKeychain is the OS keychain Keypool keeps its secrets in: under
// "keypool", or the service KEYPOOL_KEYCHAIN_SERVICE names (for tests, or a
// second Keypool).
func UserKeychain() Keychain { return OSKeychain(os.Getenv("KEYPOOL_KEYCHAIN_SERVICE")) }

// OSKeychain is the OS keychain under service ("" is Keypool's own,
// "keypool"; another name keeps a second Keypool's, or a test's, apart).
func OSKeychain(service string) Keychain { return secrets.OS{Service: service} }

// The secret fields a form or a command can set.
const (
	FieldAPIKey        = secrets.APIKey
	FieldAccessToken   = secrets.AccessToken
	FieldRefreshToken  = secrets.RefreshToken
	FieldProxyPassword = secrets.ProxyPassword
)

// Errors from opening the store that the desktop app offers a way out of.
var (
	// ErrLocked: another Keypool holds the data dir.
	ErrLocked = store.ErrLocked
	// ErrCorrupt: the database file is damaged.
	ErrCorrupt = store.ErrCorrupt
)
