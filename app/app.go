// Package app is Keypool's application layer: it turns a seed-format config,
// or the app's own account store (metadata in bbolt, secrets in the OS
// keychain), into a running relay, and owns the lifetimes of the store, the
// relay and its listener. It has no GUI code.
package app

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"keypool/app/config"
	"keypool/app/prices"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/app/tokens"
	"keypool/app/version"
	"keypool/relay"
	"keypool/relay/guard"
	"keypool/relay/pool"
	"keypool/relay/provider"
	"keypool/relay/sched"
)

// DefaultHost and DefaultPort are where the relay listens without a config.
const (
	DefaultHost = "127.0.0.1"
	DefaultPort = 3000
)

// ErrPortInUse is returned by Open when the relay's address is taken.
var ErrPortInUse = errors.New("port in use")

// AnyPort, as Params.Port, lets the system pick a free port (keypool serve
// --port 0); the URL and the run file say which.
const AnyPort = -1

// Params configures Open.
type Params struct {
	ConfigPath string // a seed-format config; empty: the app's own store
	// LogAlerts: with no window to notify the user, what it would say
	// once (a runway running short, a login about to end, the paid cap
	// reached) goes to the log.
	LogAlerts bool
	DataDir   string // where Keypool keeps its files; empty: DefaultDataDir()
	Host      string // overrides the config's [server] host when set
	Port      int    // overrides the config's [server] port when set (see AnyPort)
	// TLSCert and TLSKey override the config's [server] tls_cert and
	// tls_key (both or neither): HTTPS with these PEM files.
	TLSCert, TLSKey string
	// Listener, when set, is where the relay serves, instead of a listener
	// bound to the address Host, Port, the saved settings and the config
	// name. Open takes it over: Close closes it, as does an Open that
	// fails. URL and the run file give its address. Tests hand one over on
	// 127.0.0.1:0, so that nothing can take the port first.
	Listener net.Listener
	Logger   *slog.Logger
	Now      func() time.Time

	// Keychain holds the store's secrets; nil: the OS keychain.
	Keychain secrets.Keychain
	// RefreshToken exchanges a refresh token for an OAuth account; nil: the
	// provider's real token endpoint.
	RefreshToken func(ctx context.Context, kind pool.Kind, client *http.Client, refreshToken string) (tokens.Token, error)
	// ReleaseKey checks the release manifest's signature; nil: the
	// release key compiled in (tests sign with a throwaway key).
	ReleaseKey ed25519.PublicKey
}

// App is a running Keypool: the store, the relay, and the components Run
// runs over them (see Run).
type App struct {
	// logAlerts: say in the log what a window would notify (Params.LogAlerts).
	logAlerts bool
	// configPath is the config file whose accounts are served ("": the
	// app's own store).
	configPath string
	log        *slog.Logger
	now        func() time.Time
	cfg        *config.File
	files      Files
	store      *store.Store
	relay      *relay.Server
	prices     *prices.Table

	// The components, built by Open and run by Run.
	server     *relayServer
	control    *controlSocket // nil when the socket could not be opened
	keychain   *keychainWait
	clientKeys *clientKeys
	quota      quotaSaver

	// The app's own accounts (serve without --config).
	accounts *Accounts
	keyCreds *keychainCredentials
	tokens   *tokens.Manager
	reloadMu sync.Mutex
	kindsMu  sync.RWMutex
	kinds    map[string]pool.Kind
	proxyOf  map[string]*pool.Proxy
	// kcErr is why the keychain could not be read while Open read the
	// accounts; from then on the keychain wait holds that state.
	kcErr error

	// updates looks for a newer Keypool, when the user lets it.
	updates *updateCheck

	onShow atomic.Pointer[func()] // what a second launch does (OnShow)
	// changes holds one pending "what the window shows may have changed"
	// (see Changes).
	changes chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Open loads the configuration, opens the store, builds the relay and the
// components, and binds the relay's address. Nothing is served until Run.
// When it fails it gives back whatever it took.
func Open(p Params) (_ *App, err error) {
	a := &App{log: cmp.Or(p.Logger, slog.Default()), now: p.Now, changes: make(chan struct{}, 1), logAlerts: p.LogAlerts,
		configPath: p.ConfigPath}
	if a.now == nil {
		a.now = time.Now
	}
	defer func() {
		if err != nil {
			if a.server == nil && p.Listener != nil {
				p.Listener.Close()
			}
			a.release()
		}
	}()
	s, err := Resolve(p)
	if err != nil {
		return nil, err
	}
	a.cfg, a.files = s.Config, s.Files
	if a.store, err = store.Open(a.files.DB, store.Options{Logger: a.log, Now: a.now}); err != nil {
		return nil, err
	}
	// Prices: the bundled table, with the user's prices.json in the data dir.
	if a.prices, err = prices.Load(a.files.Prices()); err != nil {
		return nil, err
	}
	if err := a.openRelay(p); err != nil {
		return nil, err
	}
	if err := a.openKeychain(); err != nil {
		return nil, err
	}
	// The host is known now: the flags', the config's or the one saved in
	// Settings.
	if err := a.requireKeysBeyondLoopback(p); err != nil {
		return nil, err
	}
	a.loadSpend()
	a.applyAvoidRunout()
	a.relay.SetPaidDailyCap(a.PaidDailyCap())
	a.loadFolderRoutes()
	a.quota = quotaSaver{relay: a.relay, store: a.store, log: a.log}
	a.updates = newUpdateCheck(a, p.ReleaseKey)
	a.quota.load()
	srv := a.cfg.Server
	if a.server, err = listenRelay(p.Listener, a.cfg.Addr(), a.relay, serverTLS{srv.TLSCert, srv.TLSKey}, a.files.RunFile(), a.log); err != nil {
		return nil, err
	}
	if w := a.Warning(); w != "" {
		a.log.Warn(w, "host", srv.Host)
	}
	if a.control, err = listenControl(a.files.ControlSocket(), a.controlHandler(), a.log); err != nil {
		a.log.Warn("account commands will not reach this relay", "err", err)
	}
	return a, nil
}

// openRelay builds the relay over the config file's accounts, or over the
// store's with the strategy and the address saved in its settings.
func (a *App) openRelay(p Params) error {
	var (
		accounts []pool.Account
		creds    relay.Credentials
		err      error
	)
	cfg := a.cfg
	if p.ConfigPath != "" {
		accounts, creds = a.openConfigAccounts(p)
	} else {
		if accounts, creds, err = a.openAccountStore(p); err != nil {
			return err
		}
		if st, _ := a.store.Setting("strategy"); st != "" {
			cfg.Scheduler.Strategy = st
		}
		// The address saved in the app's settings, unless flags say otherwise.
		if host, port := savedListen(a.store); port != 0 {
			if p.Host == "" && host != "" {
				cfg.Server.Host = host
			}
			if p.Port == 0 {
				cfg.Server.Port = port
			}
		}
	}
	public := guard.Public{Names: nonEmpty(cfg.Server.PublicName), MetricsToken: cfg.MetricsToken,
		MonitorsNeedKey: cfg.Server.MonitorsNeedKey}
	a.relay, err = relay.New(relay.Config{
		Accounts:             accounts,
		Credentials:          creds,
		Bindings:             a.store,
		Usage:                notifyingSink{a.store, a.changed},
		Cost:                 a.prices.Cost,
		Today:                a.today,
		Version:              version.Get().Version,
		Update:               a.newerVersion,
		ClientKeys:           cfg.APIKeys,
		ClientModels:         clientModels(cfg.AllowedModels),
		ModelMap:             cfg.Models,
		ClientDailyBudgetUSD: clientBudgets(cfg.ClientBudgets),
		Strategy:             sched.Strategy(cfg.Scheduler.Strategy),
		FillThreshold:        cfg.Scheduler.FillThreshold,
		ListenHost:           cfg.Server.Host,
		Public:               public,
		StickyTTL:            seconds(cfg.Session.StickyTTLSeconds),
		RenewalThreshold:     seconds(cfg.Session.RenewalThresholdSeconds),
		UnavailableCooldown:  seconds(cfg.Session.UnavailableCooldownSeconds),
		RateLimitCooldown:    seconds(cfg.Session.RateLimitCooldownSeconds),
		IdleTimeout:          seconds(cfg.Server.IdleTimeoutSeconds),
		NoAccountsHint:       noAccountsHint(p),
		MaxBodyBytes:         cfg.Server.MaxBodyBytes,
		Logger:               a.log,
		Now:                  a.now,
	})
	return err
}

// openKeychain builds the client keys and the keychain wait, and loads the
// store's client keys (when the config names none); a keychain that cannot
// be read blocks the relay until the wait sees it answer.
func (a *App) openKeychain() error {
	var keys secrets.Keychain
	if a.accounts != nil {
		keys = a.accounts.Keys
	}
	a.clientKeys = &clientKeys{store: a.store, keys: keys, relay: a.relay, log: a.log, now: a.now, changed: a.changed,
		listenHost: a.cfg.Server.Host}
	a.keychain = &keychainWait{keys: keys, relay: a.relay, log: a.log, changed: a.changed, resume: a.resumeKeychain}
	if a.kcErr != nil {
		a.keychain.block(a.kcErr)
		return nil
	}
	if a.accounts == nil || len(a.cfg.APIKeys) > 0 {
		return nil
	}
	err := a.clientKeys.load()
	if keychainUnavailable(err) {
		a.keychain.block(err)
		return nil
	}
	return err
}

// requireKeysBeyondLoopback refuses to serve a host other machines reach
// when the relay would take no client key: the config's api_keys, or else
// (the app's own store) the stored client keys.
func (a *App) requireKeysBeyondLoopback(p Params) error {
	host := a.cfg.Server.Host
	if isLoopback(host) || len(a.cfg.APIKeys) > 0 {
		return nil
	}
	fix := "set api_keys in " + p.ConfigPath + " so only your clients can use the relay"
	if p.ConfigPath == "" {
		keys, err := a.store.ClientKeys()
		if err != nil {
			return fmt.Errorf("count the client keys: %w", err)
		}
		if len(poolKeys(keys)) > 0 { // a profile's key does not close the relay
			return nil
		}
		fix = "add a client key first (keypool client-keys add --name NAME), or listen on 127.0.0.1 (--host, or the address in Settings)"
	}
	return fmt.Errorf("host %s is reachable from other machines, and the relay has no client keys: %s", host, fix)
}

// noAccountsHint is what /health says while there are no accounts.
func noAccountsHint(p Params) string {
	if p.ConfigPath != "" {
		return "the config " + p.ConfigPath + " has no [[accounts]]: add some (config.example.toml shows each type)"
	}
	return "no accounts yet: add one with keypool login claude|codex|gemini, keypool accounts add or keypool import FILE " +
		"(or in the window's Accounts tab), or serve a config file: keypool serve --config config.toml (see config.example.toml)"
}

// openAccountStore prepares the store's accounts: their secrets come from
// the keychain, which must be reachable when any account exists.
func (a *App) openAccountStore(p Params) ([]pool.Account, relay.Credentials, error) {
	keys := p.Keychain
	if keys == nil {
		keys = secrets.OS{}
	}
	a.accounts = &Accounts{Store: a.store, Keys: keys, Now: a.now}
	list, err := a.store.Accounts()
	if err != nil {
		return nil, nil, err
	}
	clientKeys, err := a.store.ClientKeys()
	if err != nil {
		return nil, nil, err
	}
	if len(list) > 0 || len(clientKeys) > 0 {
		if c, ok := keys.(interface{ Check() error }); ok {
			if err := c.Check(); err != nil {
				if !keychainUnavailable(err) {
					return nil, nil, err
				}
				// Locked or not there yet (a login that has not unlocked
				// the keyring): serve nothing until it can be read.
				a.kcErr = err
			}
		}
	}
	if a.kcErr == nil {
		if err := a.migrateKeychain(); keychainUnavailable(err) {
			a.kcErr = err // it locked again: wait, and migrate on resume
		}
	}
	a.tokens = a.newTokens(p, keychainVault{keys: keys, store: a.store})
	a.keyCreds = &keychainCredentials{keys: keys, tokens: a.tokens, kinds: a.kindOf}
	a.noteKinds(list)
	var out []pool.Account
	for _, s := range list {
		out = append(out, poolAccount(s))
		if !provider.Known(s.Type) {
			a.log.Warn("account type not served by this build; listed in /health and skipped", "account", s.ID, "type", s.Type)
		}
	}
	if a.kcErr == nil {
		markMissing(keys, out)
	}
	return out, a.keyCreds, nil
}

func (a *App) noteKinds(list []store.Account) {
	out := make([]pool.Account, 0, len(list))
	for _, s := range list {
		out = append(out, poolAccount(s))
	}
	a.noteKindsOf(out)
}

func (a *App) noteKindsOf(list []pool.Account) {
	kinds := make(map[string]pool.Kind, len(list))
	proxies := make(map[string]*pool.Proxy, len(list))
	for _, p := range list {
		kinds[p.ID] = p.Kind
		proxies[p.ID] = p.Proxy
	}
	a.kindsMu.Lock()
	a.kinds, a.proxyOf = kinds, proxies
	a.kindsMu.Unlock()
}

func (a *App) kindOf(id string) pool.Kind {
	a.kindsMu.RLock()
	defer a.kindsMu.RUnlock()
	return a.kinds[id]
}

func (a *App) proxyFor(id string) *pool.Proxy {
	a.kindsMu.RLock()
	defer a.kindsMu.RUnlock()
	return a.proxyOf[id]
}

// noteRefreshed keeps, after a refresh, when the account's login ends, if
// the provider said (a config file's account is not in the store).
func (a *App) noteRefreshed(id string, _, loginEnds time.Time) {
	if loginEnds.IsZero() || a.store == nil {
		return
	}
	err := a.store.UpdateAccount(id, func(s *store.Account) error { s.LoginExpiry = loginEnds; return nil })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.log.Warn("save when the login ends", "account", id, "err", err)
	}
}

// markNeedsLogin takes an account whose refresh token was refused out of
// the pool. The token vault has recorded it (the store, for status,
// /health and later runs); a config file's account is rested by the relay.
func (a *App) markNeedsLogin(id string, why error) {
	a.ReloadAccounts()
}

// ReloadAccounts hands the relay the store's accounts again after a change.
func (a *App) ReloadAccounts() {
	if a.accounts == nil || a.relay == nil {
		return
	}
	// One reload at a time, so an older read of the store never lands
	// after a newer one.
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	list, err := a.store.Accounts()
	if err != nil {
		a.log.Warn("reload accounts", "err", err)
		return
	}
	a.noteKinds(list)
	out := make([]pool.Account, 0, len(list))
	for _, s := range list {
		out = append(out, poolAccount(s))
		a.keyCreds.forget(s.ID)
	}
	if a.keychainErr() == nil {
		markMissing(a.accounts.Keys, out)
	}
	a.relay.SetAccounts(out)
	a.changed()
}

// ResetTokens forgets what the token manager remembers of an account's old
// login (after its tokens were replaced in the keychain by this process).
func (a *App) ResetTokens(id string) {
	if a.tokens != nil {
		a.tokens.Replace(id, func() error { return nil })
	}
}

// Accounts manages the app's own accounts; nil when serving a config file.
func (a *App) Accounts() *Accounts { return a.accounts }

// openConfigAccounts serves a config file's accounts. Their secrets stay in
// memory; an OAuth account's rotated refresh token too, so it is lost when
// Keypool stops (keypool import keeps it in the keychain instead).
func (a *App) openConfigAccounts(p Params) ([]pool.Account, relay.Credentials) {
	keys := secrets.NewMemory()
	vault := tokens.NewMemoryVault()
	var out []pool.Account
	for _, ca := range a.cfg.Accounts {
		acct, sec := fromConfig(ca)
		// The keychain here is memory. Tokens go to the token vault instead.
		for _, f := range []secrets.Field{secrets.APIKey, secrets.ProxyPassword} {
			if s, ok := sec[f]; ok {
				keys.Set(secrets.Account(ca.ID), f, s)
			}
		}
		kind := pool.Kind(ca.Type)
		if provider.IsOAuth(kind) {
			t := tokens.Token{Access: ca.AccessToken, Refresh: ca.RefreshToken}
			if t.Access != "" && t.Refresh != "" {
				t.Expiry = time.Unix(1, 0) // unknown age: refresh on first use
			}
			vault.SaveToken(context.Background(), ca.ID, t)
			if ca.RefreshToken != "" {
				a.log.Warn("an OAuth account from a config file: its rotated refresh token is kept in memory only; run keypool import to keep it in the keychain across restarts",
					"account", ca.ID)
			}
		}
		if !provider.Known(kind) {
			a.log.Warn("account type not served by this build; listed in /health and skipped",
				"account", ca.ID, "type", ca.Type)
		}
		out = append(out, poolAccount(acct))
	}
	a.noteKindsOf(out)
	a.tokens = a.newTokens(p, vault)
	a.keyCreds = &keychainCredentials{keys: keys, tokens: a.tokens, kinds: a.kindOf}
	return out, a.keyCreds
}

// newTokens builds the token manager; refreshes go through each account's
// proxy.
func (a *App) newTokens(p Params, vault tokens.Vault) *tokens.Manager {
	refresh := p.RefreshToken
	if refresh == nil {
		refresh = refreshWithProvider
	}
	return tokens.New(tokens.Config{
		Vault: vault,
		Refresh: func(ctx context.Context, id, rt string) (tokens.Token, error) {
			cred, err := a.keyCreds.static(id)
			if err != nil {
				return tokens.Token{}, err
			}
			client, err := httpClientFor(a.proxyFor(id), cred.ProxyPassword)
			if err != nil {
				return tokens.Token{}, err
			}
			return refresh(ctx, a.kindOf(id), client, rt)
		},
		NeedsLogin: a.markNeedsLogin,
		Refreshed:  a.noteRefreshed,
		Logger:     a.log,
		Now:        a.now,
	})
}

// Addr is the address the relay listens on.
func (a *App) Addr() string { return a.server.Addr() }

// URL is the relay's base URL for clients.
func (a *App) URL() string {
	return baseURL(a.Addr(), a.server.tls, a.cfg.Server.PublicName)
}

// Warning is what is wrong with how the relay is reached, to be said
// where a person sees it; "" when nothing is.
func (a *App) Warning() string { return a.WarningFor(a.cfg.Server.Host) }

// WarningFor is Warning for a relay on host, served as this one is (over
// TLS or not): what Settings says when such a host is saved.
func (a *App) WarningFor(host string) string {
	if isLoopback(host) || a.server.tls {
		return ""
	}
	return "Keypool listens on " + host + " without TLS: client keys travel in the clear. " +
		"Set [server] tls_cert and tls_key (or --tls-cert and --tls-key), or keep it on 127.0.0.1 behind Caddy or tailscale serve (docs/server.md)."
}

// Config is the configuration the app runs with.
func (a *App) Config() *config.File { return a.cfg }

// Relay is the running relay.
func (a *App) Relay() *relay.Server { return a.relay }

// Store is the app's bbolt store.
func (a *App) Store() *store.Store { return a.store }

// Run serves until ctx is done or a component fails, then stops the
// components in the order written here, each stage once the one before has
// ended, and returns the first error.
func (a *App) Run(ctx context.Context) error {
	// First nothing new comes in: running requests get a few seconds to
	// finish, and account commands are turned away.
	inputs := []component{a.server}
	if a.control != nil {
		inputs = append(inputs, a.control)
	}
	// Then the workers that change what the store holds: a refresh in
	// flight saves its rotated token, the plan readings are saved a last
	// time, and the keychain wait ends.
	workers := []component{refresher{tokens: a.tokens, accounts: a.oauthAccounts}, a.quota, a.keychain, a.updates}
	if a.logAlerts {
		workers = append(workers, alertLog{a})
	}
	// Last, the store's writer commits every record queued before.
	return runInOrder(ctx, inputs, workers, []component{a.store})
}

// oauthAccounts lists the enabled OAuth accounts, for the background
// refresher.
func (a *App) oauthAccounts() []string {
	var ids []string
	if a.keychainErr() != nil {
		return nil // the tokens are in the keychain
	}
	if a.accounts != nil {
		list, err := a.store.Accounts()
		if err != nil {
			return nil
		}
		for _, s := range list {
			if s.Enabled && s.Status == store.StatusOK && provider.IsOAuth(s.Type) {
				ids = append(ids, s.ID)
			}
		}
		return ids
	}
	a.kindsMu.RLock()
	defer a.kindsMu.RUnlock()
	for id, k := range a.kinds {
		if provider.IsOAuth(k) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Close releases everything Open took. It is safe to call more than once.
func (a *App) Close() error {
	a.closeOnce.Do(func() { a.closeErr = a.release() })
	return a.closeErr
}

// release gives back what Open took, as far as it got: the relay's
// listener and run file, the control socket, then the store.
func (a *App) release() error {
	if a.server != nil {
		a.server.close()
	}
	if a.control != nil {
		a.control.close()
	}
	if a.store == nil {
		return nil
	}
	return a.store.Close()
}

// today sums today's traffic per account for /health.
func (a *App) today() map[string]relay.DayStats {
	days, err := a.store.Day(a.now())
	if err != nil {
		a.log.Warn("read today's usage", "err", err)
		return nil
	}
	out := make(map[string]relay.DayStats)
	for _, d := range days {
		s := out[d.Account]
		s.Counts = s.Counts.Plus(d.Counts)
		s.CostUSD += d.CostUSD
		s.Usage = s.Usage.Add(d.Usage)
		out[d.Account] = s
	}
	return out
}

// Prices is the price table in use.
func (a *App) Prices() *prices.Table { return a.prices }

// clientBudgets keys [client_budgets] by client key id.
func clientBudgets(byKey map[string]float64) map[string]float64 {
	if len(byKey) == 0 {
		return nil
	}
	out := make(map[string]float64, len(byKey))
	for k, usd := range byKey {
		out[guard.KeyID(k)] = usd
	}
	return out
}

// loadSpend starts the relay's budget counters from the records of the
// day and month so far.
func (a *App) loadSpend() {
	now := a.now()
	day := map[string]float64{}
	month := map[string]float64{}
	for d := now; d.Month() == now.Month(); d = d.AddDate(0, 0, -1) {
		totals, err := a.store.Day(d)
		if err != nil {
			a.log.Warn("read spend", "err", err)
			return
		}
		for _, t := range totals {
			month[t.Account] += t.CostUSD
			if d.Equal(now) {
				day[t.Account] += t.CostUSD
			}
		}
	}
	for acct, m := range month {
		a.relay.SetSpend(acct, now, day[acct], m)
	}
	y, mo, dd := now.Date()
	recs, err := a.store.Records(time.Date(y, mo, dd, 0, 0, 0, 0, now.Location()), time.Time{}, 0)
	if err != nil {
		return
	}
	clients := map[string]float64{}
	paid := 0.0
	for _, r := range recs {
		clients[r.ClientID] += r.CostUSD
		if r.Paid {
			paid += r.CostUSD
		}
	}
	a.relay.SetPaidSpend(now, paid)
	for c, usd := range clients {
		a.relay.SetClientSpend(c, now, usd)
	}
}

// clientModels keys [allowed_models] by client key id, as the relay names
// clients.
func clientModels(byKey map[string][]string) map[string][]string {
	if len(byKey) == 0 {
		return nil
	}
	out := make(map[string][]string, len(byKey))
	for k, pats := range byKey {
		out[guard.KeyID(k)] = pats
	}
	return out
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// baseURL is the URL clients reach a relay listening on addr by: over
// HTTPS, by the public name when there is one (the certificate names it,
// rarely 127.0.0.1).
func baseURL(addr string, tls bool, publicName string) string {
	if !tls {
		return "http://" + clientAddr(addr)
	}
	if _, port, err := net.SplitHostPort(addr); err == nil && publicName != "" {
		return "https://" + net.JoinHostPort(publicName, port)
	}
	return "https://" + clientAddr(addr)
}

func nonEmpty(s ...string) []string {
	return slices.DeleteFunc(s, func(x string) bool { return x == "" })
}

// clientAddr turns a listen address into one a local client can dial.
func clientAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
