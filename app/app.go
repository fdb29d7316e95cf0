// Package app is Keypool's application layer: it turns a seed-format config,
// or the app's own account store (metadata in bbolt, secrets in the OS
// keychain), into a running relay, and owns the lifetimes of the store, the
// relay and its listener. It has no GUI code.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"keypool/app/config"
	"keypool/app/prices"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/app/tokens"
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

// Params configures Open.
type Params struct {
	ConfigPath string // a seed-format config; empty: the app's own store
	DataDir    string // where Keypool keeps its files; empty: DefaultDataDir()
	Host       string // overrides the config's [server] host when set
	Port       int    // overrides the config's [server] port when set
	Logger     *slog.Logger
	Now        func() time.Time

	// Keychain holds the store's secrets; nil: the OS keychain.
	Keychain secrets.Keychain
	// RefreshToken exchanges a refresh token for an OAuth account; nil: the
	// provider's real token endpoint.
	RefreshToken func(ctx context.Context, kind pool.Kind, client *http.Client, refreshToken string) (tokens.Token, error)
}

// App is a running Keypool: store, relay and listener.
type App struct {
	log      *slog.Logger
	cfg      *config.File
	dbPath   string
	store    *store.Store
	relay    *relay.Server
	server   *http.Server
	listener net.Listener
	now      func() time.Time

	// The app's own accounts (serve without --config).
	accounts   *Accounts
	control    net.Listener // the control socket; nil when serving a config file
	controlSrv *http.Server
	keyCreds   *keychainCredentials
	tokens     *tokens.Manager
	prices     *prices.Table
	reloadMu   sync.Mutex
	showMu     sync.Mutex
	onShow     func()
	kindsMu    sync.RWMutex
	kinds      map[string]pool.Kind
	proxyOf    map[string]*pool.Proxy
	// kcErr is why the keychain could not be read at start; while it is
	// set the relay is blocked and waitKeychain watches. Guarded by kcMu.
	kcMu  sync.Mutex
	kcErr error
	// clientKeysMu serialises loadClientKeys and guards brokenKeys: why
	// each client key the relay could not take is left out.
	clientKeysMu sync.Mutex
	brokenKeys   map[string]string

	// changes holds one pending "what the window shows may have changed"
	// (see Changes).
	changes chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// DefaultDataDir is the per-user folder Keypool keeps its files in.
func DefaultDataDir() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the user config dir: %w (pass --data-dir)", err)
	}
	return filepath.Join(dir, "keypool"), nil
}

// LoadConfig reads p's config, or returns an empty one (no accounts,
// loopback, default port) when there is none, with overrides applied.
func LoadConfig(p Params) (*config.File, error) {
	var cfg *config.File
	if p.ConfigPath != "" {
		c, err := config.Load(p.ConfigPath)
		if err != nil {
			return nil, err
		}
		cfg = c
	} else {
		c, err := config.Parse("(defaults)", nil)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if p.Host != "" {
		cfg.Server.Host = p.Host
	}
	if p.Port != 0 {
		cfg.Server.Port = p.Port
	}
	return cfg, nil
}

// DatabasePath is the bbolt file for p and cfg: --data-dir wins, then the
// config's database_path, then the default data dir.
func DatabasePath(p Params, cfg *config.File) (string, error) {
	if p.DataDir != "" {
		return filepath.Join(p.DataDir, "keypool.db"), nil
	}
	if cfg != nil && cfg.Server.DatabasePath != "" {
		return besideSQLite(cfg.Server.DatabasePath), nil
	}
	dir, err := DefaultDataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "keypool.db"), nil
}

// besideSQLite keeps a seed relay's database untouched: the seed keeps
// SQLite at database_path, so when that file is SQLite Keypool puts its own
// bbolt file beside it ("relay.db" → "relay.keypool.db").
func besideSQLite(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return path
	}
	defer f.Close()
	magic := make([]byte, 16)
	if n, _ := io.ReadFull(f, magic); n == 16 && string(magic) == "SQLite format 3\x00" {
		ext := filepath.Ext(path)
		return strings.TrimSuffix(path, ext) + ".keypool.db"
	}
	return path
}

// OpenStore opens the store of p's data dir for a one-off command, waiting
// briefly for the lock.
func OpenStore(p Params) (*store.Store, error) {
	cfg, err := LoadConfig(p)
	if err != nil {
		return nil, err
	}
	path, err := DatabasePath(p, cfg)
	if err != nil {
		return nil, err
	}
	return store.Open(path, store.Options{Timeout: 300 * time.Millisecond, Logger: p.Logger})
}

// Open loads the configuration, opens the store and binds the relay's
// address. Nothing is served until Run.
func Open(p Params) (*App, error) {
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	cfg, err := LoadConfig(p)
	if err != nil {
		return nil, err
	}
	if !isLoopback(cfg.Server.Host) && len(cfg.APIKeys) == 0 {
		return nil, fmt.Errorf("host %s is reachable from other machines: set api_keys so only your clients can use the relay", cfg.Server.Host)
	}
	dbPath, err := DatabasePath(p, cfg)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(dbPath, store.Options{Logger: log, Now: now})
	if err != nil {
		return nil, err
	}
	a := &App{log: log, cfg: cfg, dbPath: dbPath, store: st, now: now, changes: make(chan struct{}, 1)}
	// Prices: the bundled table, with the user's prices.json in the data dir.
	if a.prices, err = prices.Load(filepath.Join(filepath.Dir(dbPath), "prices.json")); err != nil {
		st.Close()
		return nil, err
	}

	var (
		accounts []pool.Account
		creds    relay.Credentials
	)
	if p.ConfigPath != "" {
		accounts, creds = a.openConfigAccounts(p)
	} else {
		accounts, creds, err = a.openAccountStore(p)
		if err != nil {
			st.Close()
			return nil, err
		}
		if st, _ := a.store.Setting("strategy"); st != "" {
			cfg.Scheduler.Strategy = st
		}
		// The address saved in the app's settings, unless flags say otherwise.
		if host, port := savedListen(a); port != 0 {
			if p.Host == "" && host != "" {
				cfg.Server.Host = host
			}
			if p.Port == 0 {
				cfg.Server.Port = port
			}
		}
	}
	a.relay, err = relay.New(relay.Config{
		Accounts:             accounts,
		Credentials:          creds,
		Bindings:             st,
		Usage:                notifyingSink{st, a.changed},
		Cost:                 a.prices.Cost,
		Today:                a.today,
		ClientKeys:           cfg.APIKeys,
		ClientModels:         clientModels(cfg.AllowedModels),
		ModelMap:             cfg.Models,
		ClientDailyBudgetUSD: clientBudgets(cfg.ClientBudgets),
		Strategy:             sched.Strategy(cfg.Scheduler.Strategy),
		FillThreshold:        cfg.Scheduler.FillThreshold,
		ListenHost:           cfg.Server.Host,
		StickyTTL:            seconds(cfg.Session.StickyTTLSeconds),
		RenewalThreshold:     seconds(cfg.Session.RenewalThresholdSeconds),
		UnavailableCooldown:  seconds(cfg.Session.UnavailableCooldownSeconds),
		RateLimitCooldown:    seconds(cfg.Session.RateLimitCooldownSeconds),
		IdleTimeout:          seconds(cfg.Server.IdleTimeoutSeconds),
		NoAccountsHint:       noAccountsHint(p),
		MaxBodyBytes:         cfg.Server.MaxBodyBytes,
		Logger:               log,
		Now:                  now,
	})
	if err != nil {
		st.Close()
		return nil, err
	}

	if err := a.keychainErr(); err != nil {
		a.waitForKeychain(err)
	} else if a.accounts != nil && len(cfg.APIKeys) == 0 {
		// The store's client keys, when it has any.
		if err := a.loadClientKeys(); keychainUnavailable(err) {
			a.waitForKeychain(err)
		} else if err != nil {
			st.Close()
			return nil, err
		}
	}
	a.loadSpend()
	a.loadQuota()
	addr := cfg.Addr()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		st.Close()
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: %s is already taken (another Keypool or another program?): choose another with --port N or [server] port in the config", ErrPortInUse, addr)
		}
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	a.listener = ln
	{
		if a.control, err = listenControl(ControlSocket(dbPath)); err != nil {
			log.Warn("account commands will not reach this relay", "err", err)
		} else {
			a.controlSrv = &http.Server{Handler: a.controlHandler(), ReadHeaderTimeout: 10 * time.Second}
		}
	}
	a.server = &http.Server{
		Handler:           a.relay,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	if err := writeRunFile(a.runFile(), ln.Addr().String()); err != nil {
		log.Warn("cannot note the relay address for `keypool status`", "err", err)
	}
	return a, nil
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
		if !provider.Known(pool.Kind(s.Type)) {
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

// markNeedsLogin records that an account's refresh token was refused, so
// status, /health and later runs show it, and takes it out of the pool.
func (a *App) markNeedsLogin(id string, why error) {
	if a.accounts == nil {
		return // a config file's account: the relay rests it; nothing to record
	}
	if err := a.store.UpdateAccount(id, func(s *store.Account) error {
		s.Status, s.StatusWhy = store.StatusNeedsLogin, "the provider refused the refresh token"
		return nil
	}); err != nil {
		a.log.Warn("cannot record needs-login", "account", id, "err", err)
	}
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
	vault := &memoryVault{toks: map[string]tokens.Token{}}
	var out []pool.Account
	for _, ca := range a.cfg.Accounts {
		acct := store.Account{ID: ca.ID, Type: ca.Type, Name: ca.Name, Priority: ca.Priority, Enabled: ca.Enabled,
			APIURL: ca.APIURL, AuthHeader: ca.AuthHeader, DailyBudgetUSD: ca.DailyBudgetUSD, MonthlyBudgetUSD: ca.MonthlyBudgetUSD}
		if ca.APIKey != "" {
			keys.Set(secrets.Account(ca.ID), secrets.APIKey, secrets.New(ca.APIKey))
		}
		if ca.Proxy != nil {
			acct.Proxy = &store.Proxy{Type: ca.Proxy.Type, Host: ca.Proxy.Host, Port: ca.Proxy.Port, Username: ca.Proxy.Username}
			if ca.Proxy.Password != "" {
				keys.Set(secrets.Account(ca.ID), secrets.ProxyPassword, secrets.New(ca.Proxy.Password))
			}
		}
		kind := pool.Kind(ca.Type)
		if provider.IsOAuth(kind) {
			t := tokens.Token{Access: ca.AccessToken, Refresh: ca.RefreshToken}
			if t.Access != "" && t.Refresh != "" {
				t.Expiry = time.Unix(1, 0) // unknown age: refresh on first use
			}
			vault.toks[ca.ID] = t
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
		Logger:     a.log,
		Now:        a.now,
	})
}

// memoryVault keeps tokens in memory (accounts from a config file).
type memoryVault struct {
	mu   sync.Mutex
	toks map[string]tokens.Token
}

func (v *memoryVault) LoadToken(_ context.Context, id string) (tokens.Token, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.toks[id], nil
}

func (v *memoryVault) SaveToken(_ context.Context, id string, t tokens.Token) error {
	v.mu.Lock()
	v.toks[id] = t
	v.mu.Unlock()
	return nil
}

// Addr is the address the relay listens on.
func (a *App) Addr() string { return a.listener.Addr().String() }

// URL is the relay's base URL for clients.
func (a *App) URL() string { return "http://" + clientAddr(a.Addr()) }

// Config is the configuration the app runs with.
func (a *App) Config() *config.File { return a.cfg }

// Relay is the running relay.
func (a *App) Relay() *relay.Server { return a.relay }

// Store is the app's bbolt store.
func (a *App) Store() *store.Store { return a.store }

// Run serves until ctx is done, then shuts the server down (letting running
// requests finish for a few seconds) and writes out queued records.
func (a *App) Run(ctx context.Context) error {
	storeCtx, stopStore := context.WithCancel(context.Background())
	storeDone := make(chan error, 1)
	go func() { storeDone <- a.store.Run(storeCtx) }()

	serveErr := make(chan error, 1)
	go func() { serveErr <- a.server.Serve(a.listener) }()
	controlDone := make(chan struct{})
	go func() {
		defer close(controlDone)
		if a.controlSrv != nil {
			a.controlSrv.Serve(a.control)
		}
	}()
	defer func() {
		if a.controlSrv != nil {
			a.controlSrv.Close()
		}
		<-controlDone
	}()

	quotaDone := make(chan struct{})
	quotaCtx, stopQuota := context.WithCancel(ctx)
	go func() {
		defer close(quotaDone)
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quotaCtx.Done():
				return
			case <-t.C:
				a.saveQuota()
			}
		}
	}()
	defer func() { stopQuota(); <-quotaDone; a.saveQuota() }()

	keychainDone := make(chan struct{})
	keychainCtx, stopKeychain := context.WithCancel(ctx)
	go func() {
		defer close(keychainDone)
		a.waitKeychain(keychainCtx)
	}()
	defer func() {
		stopKeychain()
		select {
		case <-keychainDone:
		case <-time.After(2 * time.Second):
			// go-keyring waits without limit for an unlock prompt to be
			// answered; quitting must not. The process ends anyway.
			a.log.Warn("not waiting for the keychain check (an unanswered unlock prompt?)")
		}
	}()

	refreshDone := make(chan struct{})
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	go func() {
		defer close(refreshDone)
		if a.tokens != nil {
			a.tokens.RunRefresher(refreshCtx, a.oauthAccounts, time.Minute, 5*time.Minute)
		}
	}()
	defer func() { stopRefresh(); <-refreshDone }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := a.server.Shutdown(shutCtx); serr != nil && err == nil && !errors.Is(serr, context.DeadlineExceeded) {
		err = serr
	}
	a.server.Close() // streams still open after the grace period
	a.relay.Close()
	if a.tokens != nil {
		// A refresh that rotated a token must save it before the store and
		// the process go.
		stopRefresh()
		waitCtx, cancelWait := context.WithTimeout(context.Background(), 30*time.Second)
		a.tokens.Wait(waitCtx)
		cancelWait()
	}
	stopStore()
	if serr := <-storeDone; serr != nil && err == nil {
		err = serr
	}
	return err
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
			k := pool.Kind(s.Type)
			if s.Enabled && s.Status == store.StatusOK && k.IsOAuth() && k.Served() {
				ids = append(ids, s.ID)
			}
		}
		return ids
	}
	a.kindsMu.RLock()
	defer a.kindsMu.RUnlock()
	for id, k := range a.kinds {
		if k.IsOAuth() && k.Served() {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Close releases everything Open took. It is safe to call more than once.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.listener.Close()
		os.Remove(a.runFile())
		if a.control != nil {
			a.control.Close()
			os.Remove(ControlSocket(a.dbPath))
		}
		a.closeErr = a.store.Close()
	})
	return a.closeErr
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
	for _, r := range recs {
		clients[r.ClientID] += r.CostUSD
	}
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

// runFile notes where the relay that holds the data dir listens, so
// `keypool status` can ask it (bbolt lets one process open the file).
func (a *App) runFile() string { return RunFile(a.dbPath) }

// RunFile is the run file next to the database at dbPath.
func RunFile(dbPath string) string { return filepath.Join(filepath.Dir(dbPath), "relay.json") }

// RunInfo is the content of the run file.
type RunInfo struct {
	PID     int       `json:"pid"`
	Addr    string    `json:"addr"`
	Started time.Time `json:"started"`
}

func writeRunFile(path, addr string) error {
	b, err := json.Marshal(RunInfo{PID: os.Getpid(), Addr: addr, Started: time.Now()})
	if err != nil {
		return err
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
