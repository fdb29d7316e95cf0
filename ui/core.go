package ui

import (
	"context"
	"time"

	"keypool/app"
)

// Core is what the window and the tray need of a running Keypool: the
// boundary ui owns, which package app's *App implements. Its methods hand
// out values (app's view types) and errors, never a nil to call.
type Core interface {
	relayView
	accountsCore
	usageCore
	clientsCore
	settingsCore
}

// relayView is the relay as the window shows it: where it listens, its
// state, and when that may have changed.
type relayView interface {
	URL() string
	Addr() string
	Health() app.Health
	// Changes receives a value when what the window shows may have
	// changed (values do not queue up).
	Changes() <-chan struct{}
	Paused() bool
	SetPaused(bool)
	// Warning is what is unsafe in how the relay listens now ("" when
	// nothing), WarningFor what would be on host.
	Warning() string
	WarningFor(host string) string
	DatabasePath() string
}

// accountsCore lists and changes the accounts.
type accountsCore interface {
	// StoredAccounts lists the accounts shown: the app's own, or a config
	// file's (ConfigPath names it, and they change only there).
	StoredAccounts() ([]app.Account, error)
	ConfigPath() string
	// ChangeableAccounts is the app's own accounts, to change; an error
	// (app.ErrConfigAccounts) when they come from a config file.
	ChangeableAccounts() (*app.Accounts, error)
	UpdateAccount(id string, change func(*app.Account) error) error
	ReloadAccounts()
	ResetAccount(id string)
	Login(ctx context.Context, lp app.LoginParams) (app.Account, error)
}

// usageCore reads the recorded usage.
type usageCore interface {
	Day(t time.Time) ([]app.DayTotal, error)
	Hourly(start time.Time, n int) ([]app.Hour, error)
	Latest(n int) ([]app.UsageRecord, error)
}

// clientsCore is the local clients: their keys, profiles and the CLIs'
// own configs.
type clientsCore interface {
	ClientKeys() ([]app.ClientKeyInfo, error)
	AddClientKey(label string) (app.ClientKeyInfo, error)
	RevokeClientKey(id string) error
	ClientKeySecret(id string) (app.Secret, error)
	ClientKeyForCLI() (string, error)
	AddProfile(name string, accounts []string) (app.ProfileInfo, app.Secret, error)
	ConnectClient(c app.Client, on bool) error
	ConnectedProjects() ([]app.Project, error)
}

// settingsCore is the settings the window changes, each applied at once.
type settingsCore interface {
	Strategy() string
	SetStrategy(s string) error
	AvoidRunout() int
	SetAvoidRunout(minutes int) error
	RunwayWarnMinutes() int
	SetRunwayWarnMinutes(minutes int) error
	PaidDailyCap() float64
	SetPaidDailyCap(usd float64) error
	SetListen(host string, port int) error
	// UpdateCheck: whether Keypool looks for a newer version once a day,
	// and whether the user was asked; UpdateAvailable what it found.
	UpdateCheck() (on, asked bool)
	SetUpdateCheck(on bool) error
	UpdateAvailable() (app.Release, bool)
}

var _ Core = (*app.App)(nil)
