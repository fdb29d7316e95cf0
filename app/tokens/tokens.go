// Package tokens keeps OAuth accounts logged in: it hands out access tokens,
// refreshes them 10 s before they expire (on use and ahead of time in the
// background), lets one refresh per account run at a time while concurrent
// callers wait for it, and writes a rotated refresh token to the vault before
// the new access token is used by anything.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"keypool/relay/oauth"
	"keypool/relay/pool"
)

// Token is an account's OAuth token pair. Its String, GoString and LogValue
// never show the tokens.
type Token struct {
	Access  string
	Refresh string
	Expiry  time.Time // zero: never expires (a setup token)
	// RefreshExpiry is when the refresh token stops working (the login
	// ends); zero when the provider does not say.
	RefreshExpiry time.Time
}

func (Token) String() string       { return "tokens.Token{REDACTED}" }
func (Token) GoString() string     { return "tokens.Token{REDACTED}" }
func (Token) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// validAt reports whether the access token can be used at t.
func (t Token) validAt(at time.Time) bool {
	return t.Access != "" && (t.Expiry.IsZero() || t.Expiry.After(at))
}

// ErrInvalidGrant is what a RefreshFunc's error must match (errors.Is) when
// the provider refused the refresh token for good: the OAuth client's own.
var ErrInvalidGrant = oauth.ErrInvalidGrant

// Vault stores tokens durably (the OS keychain in Keypool), and whether an
// account's refresh token was refused: the one record of "needs login",
// which the Manager reads instead of keeping its own.
type Vault interface {
	LoadToken(ctx context.Context, account string) (Token, error)
	SaveToken(ctx context.Context, account string, t Token) error
	// NeedsLogin reports whether the account's login was refused and no
	// new one has replaced it.
	NeedsLogin(account string) bool
	// SetNeedsLogin records (needs) or clears (!needs) that mark.
	SetNeedsLogin(account string, needs bool) error
}

// RefreshFunc exchanges a refresh token at the account's provider, through
// the account's proxy. An answer without a refresh token leaves Refresh empty.
type RefreshFunc func(ctx context.Context, account, refreshToken string) (Token, error)

// Config configures a Manager.
type Config struct {
	Vault   Vault       // required
	Refresh RefreshFunc // required
	// Ahead is how long before expiry a token counts as expired: 10 s.
	Ahead time.Duration
	// NeedsLogin is called once when an account's refresh token is
	// refused, after the Vault recorded it.
	NeedsLogin func(account string, why error)
	// Refreshed is called after a refresh is saved, with the new token's
	// expiry and its refresh token's (zero: not said).
	Refreshed func(account string, expiry, refreshExpiry time.Time)
	Logger    *slog.Logger
	Now       func() time.Time
	// RefreshTimeout bounds one refresh call: 30 s.
	RefreshTimeout time.Duration
}

// Manager hands out access tokens. It is safe for concurrent use.
type Manager struct {
	cfg    Config
	flight singleflight.Group

	locks sync.Map // account → *sync.Mutex: one refresh per account, forced or not

	mu      sync.Mutex
	cache   map[string]Token // last known good token per account
	unsaved map[string]Token // rotated tokens the vault has not accepted yet
	// running counts the refreshes in flight, and idle is closed while
	// there are none (a new one each time the first starts): what Wait
	// waits on, with no goroutine of its own.
	running int
	idle    chan struct{}
}

// New returns a Manager.
func New(cfg Config) *Manager {
	if cfg.Ahead == 0 {
		cfg.Ahead = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RefreshTimeout == 0 {
		cfg.RefreshTimeout = 30 * time.Second
	}
	idle := make(chan struct{})
	close(idle)
	return &Manager{cfg: cfg, cache: map[string]Token{}, unsaved: map[string]Token{}, idle: idle}
}

// Token returns a usable access token for account, refreshing it first when
// it expires within Ahead.
func (m *Manager) Token(ctx context.Context, account string) (Token, error) {
	m.mu.Lock()
	t, ok := m.cache[account]
	m.mu.Unlock()
	if ok && t.validAt(m.cfg.Now().Add(m.cfg.Ahead)) {
		return t, nil
	}
	return m.refresh(ctx, account, "")
}

// ForceRefresh refreshes after the upstream refused access token stale (a
// 401). If another caller has already replaced stale, that token is returned
// without a second refresh.
func (m *Manager) ForceRefresh(ctx context.Context, account, stale string) (Token, error) {
	return m.refresh(ctx, account, stale)
}

// Replace runs save (which writes a new login's tokens to the vault) under
// the account's refresh lock, so no refresh in flight can overwrite them,
// then forgets everything remembered of the old tokens: the cache, a
// rotated token still waiting to be saved, and "needs login". Use it for a
// new login and for removal.
func (m *Manager) Replace(account string, save func() error) error {
	lock := m.lockFor(account)
	lock.Lock()
	defer lock.Unlock()
	if err := save(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.cache, account)
	delete(m.unsaved, account)
	m.mu.Unlock()
	if m.cfg.Vault.NeedsLogin(account) {
		if err := m.cfg.Vault.SetNeedsLogin(account, false); err != nil {
			return fmt.Errorf("account %s: clear needs login: %w", account, err)
		}
	}
	return nil
}

// Wait blocks until no refresh is running, or ctx is done: a refresh that
// rotated a token must get to save it before the process exits.
func (m *Manager) Wait(ctx context.Context) {
	m.mu.Lock()
	idle := m.idle
	m.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
	}
}

// started and ended bracket a refresh in flight (see Wait).
func (m *Manager) started() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running == 0 {
		m.idle = make(chan struct{})
	}
	m.running++
}

func (m *Manager) ended() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running--
	if m.running == 0 {
		close(m.idle)
	}
}

func (m *Manager) lockFor(account string) *sync.Mutex {
	l, _ := m.locks.LoadOrStore(account, new(sync.Mutex))
	return l.(*sync.Mutex)
}

// refresh runs at most one refresh per account at a time; callers that
// arrive meanwhile share its result. The flight re-reads the token first,
// since a flight that just ended may have refreshed it already. stale, when
// set, is an access token the upstream refused: it must not be returned.
func (m *Manager) refresh(ctx context.Context, account, stale string) (Token, error) {
	key := account
	if stale != "" {
		key += "\x00forced"
	}
	ch := m.flight.DoChan(key, func() (any, error) {
		m.started()
		defer m.ended()
		// The refresh belongs to every waiter, not to the first caller:
		// it runs to its end even if that caller leaves.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.RefreshTimeout)
		defer cancel()
		return m.refreshOnce(fctx, account, stale)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return Token{}, r.Err
		}
		return r.Val.(Token), nil
	case <-ctx.Done():
		return Token{}, ctx.Err()
	}
}

func (m *Manager) refreshOnce(ctx context.Context, account, stale string) (Token, error) {
	lock := m.lockFor(account)
	lock.Lock()
	defer lock.Unlock()

	m.mu.Lock()
	pending, hasPending := m.unsaved[account]
	m.mu.Unlock()
	if m.cfg.Vault.NeedsLogin(account) {
		return Token{}, fmt.Errorf("account %s: %w", account, pool.ErrNeedsLogin)
	}
	if hasPending {
		// A rotated token the vault refused earlier: save it before anything
		// else, or it is lost.
		if err := m.cfg.Vault.SaveToken(ctx, account, pending); err != nil {
			return Token{}, fmt.Errorf("account %s: save the rotated token: %w", account, err)
		}
		m.mu.Lock()
		delete(m.unsaved, account)
		m.cache[account] = pending
		m.mu.Unlock()
	}

	cur, err := m.cfg.Vault.LoadToken(ctx, account)
	if err != nil {
		return Token{}, fmt.Errorf("account %s: load token: %w", account, err)
	}
	now := m.cfg.Now()
	if cur.validAt(now.Add(m.cfg.Ahead)) && (stale == "" || cur.Access != stale) {
		m.remember(account, cur)
		return cur, nil
	}
	if cur.Refresh == "" {
		if cur.validAt(now) && stale == "" {
			return cur, nil // a setup token near its end: nothing to refresh with
		}
		m.markDead(account, errors.New("no refresh token"))
		return Token{}, fmt.Errorf("account %s: no refresh token: %w", account, pool.ErrNeedsLogin)
	}

	next, err := m.cfg.Refresh(ctx, account, cur.Refresh)
	if err != nil {
		if errors.Is(err, ErrInvalidGrant) {
			m.markDead(account, err)
			return Token{}, fmt.Errorf("account %s: %w: %w", account, pool.ErrNeedsLogin, err)
		}
		if cur.validAt(now) && stale == "" {
			// The provider is down but the old token still works: use it.
			m.cfg.Logger.Warn("token refresh failed; using the current token until it expires",
				"account", account, "expires", cur.Expiry, "err", err)
			return cur, nil
		}
		return Token{}, fmt.Errorf("account %s: refresh: %w", account, err)
	}
	if next.Refresh == "" {
		next.Refresh = cur.Refresh // not rotated
	}
	if err := m.cfg.Vault.SaveToken(ctx, account, next); err != nil {
		// Never drop a rotated refresh token: keep it to save on the next
		// call, and do not use the new access token until it is saved.
		m.mu.Lock()
		m.unsaved[account] = next
		m.mu.Unlock()
		return Token{}, fmt.Errorf("account %s: save the refreshed token: %w", account, err)
	}
	m.remember(account, next)
	m.cfg.Logger.Info("token refreshed", "account", account, "expires", next.Expiry)
	if m.cfg.Refreshed != nil {
		m.cfg.Refreshed(account, next.Expiry, next.RefreshExpiry)
	}
	return next, nil
}

func (m *Manager) remember(account string, t Token) {
	m.mu.Lock()
	m.cache[account] = t
	m.mu.Unlock()
}

// markDead records in the vault that account needs a new login, once. It
// runs under the account's refresh lock.
func (m *Manager) markDead(account string, why error) {
	m.mu.Lock()
	delete(m.cache, account)
	m.mu.Unlock()
	if m.cfg.Vault.NeedsLogin(account) {
		return
	}
	if err := m.cfg.Vault.SetNeedsLogin(account, true); err != nil {
		m.cfg.Logger.Warn("cannot record needs-login", "account", account, "err", err)
	}
	m.cfg.Logger.Warn("account needs login: its refresh token was refused", "account", account, "reason", why.Error())
	if m.cfg.NeedsLogin != nil {
		m.cfg.NeedsLogin(account, why)
	}
}

// RunRefresher refreshes, ahead of time, every account listed by accounts
// whose token expires within window, checking every interval, until ctx is
// done. Requests then rarely wait for a refresh.
func (m *Manager) RunRefresher(ctx context.Context, accounts func() []string, interval, window time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, id := range accounts() {
			m.mu.Lock()
			tok, ok := m.cache[id]
			m.mu.Unlock()
			if m.cfg.Vault.NeedsLogin(id) || (ok && (tok.Expiry.IsZero() || tok.Expiry.After(m.cfg.Now().Add(window)))) {
				continue
			}
			if !ok {
				// Not used yet: load it (and refresh if due) now.
				if _, err := m.Token(ctx, id); err != nil && ctx.Err() == nil {
					m.cfg.Logger.Warn("background token check failed", "account", id, "err", err)
				}
				continue
			}
			if _, err := m.refresh(ctx, id, tok.Access); err != nil && ctx.Err() == nil {
				m.cfg.Logger.Warn("background refresh failed", "account", id, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
