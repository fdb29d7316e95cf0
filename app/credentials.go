package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/app/tokens"
	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/provider"
	"keypool/relay/upstream"
)

// keychainVault keeps OAuth tokens in the keychain and their (non-secret)
// expiry in the store. The refresh token is written first: it is the one a
// provider will not hand out again.
type keychainVault struct {
	keys  secrets.Keychain
	store *store.Store
}

func (v keychainVault) LoadToken(_ context.Context, id string) (tokens.Token, error) {
	var t tokens.Token
	for _, x := range []struct {
		f   secrets.Field
		dst *string
	}{{secrets.AccessToken, &t.Access}, {secrets.RefreshToken, &t.Refresh}} {
		s, err := v.keys.Get(secrets.Account(id), x.f)
		if err != nil && !errors.Is(err, secrets.ErrNotFound) {
			return tokens.Token{}, err
		}
		*x.dst = s.Reveal()
	}
	acct, err := v.store.Account(id)
	if err != nil {
		return tokens.Token{}, err
	}
	t.Expiry = acct.Expiry
	if t.Access != "" && t.Expiry.IsZero() && t.Refresh != "" {
		// An access token of unknown age with a refresh token: treat it as
		// due, so the first use refreshes it.
		t.Expiry = time.Unix(1, 0)
	}
	return t, nil
}

func (v keychainVault) SaveToken(_ context.Context, id string, t tokens.Token) error {
	if err := v.keys.Set(secrets.Account(id), secrets.RefreshToken, secrets.New(t.Refresh)); err != nil {
		return err
	}
	if err := v.keys.Set(secrets.Account(id), secrets.AccessToken, secrets.New(t.Access)); err != nil {
		return err
	}
	return v.store.UpdateAccount(id, func(a *store.Account) error { a.Expiry = t.Expiry; return nil })
}

// NeedsLogin reads the account's login state where it lives: the store.
func (v keychainVault) NeedsLogin(id string) bool {
	acct, err := v.store.Account(id)
	return err == nil && acct.Status == store.StatusNeedsLogin
}

// SetNeedsLogin records in the store that the account's refresh token was
// refused, or clears it after a new login.
func (v keychainVault) SetNeedsLogin(id string, needs bool) error {
	return v.store.UpdateAccount(id, func(a *store.Account) error {
		switch {
		case needs:
			a.Status, a.StatusWhy = store.StatusNeedsLogin, "the provider refused the refresh token"
		case a.Status == store.StatusNeedsLogin:
			a.Status, a.StatusWhy = store.StatusOK, ""
		}
		return nil
	})
}

// keychainCredentials hands the relay each account's credential: API keys
// from the keychain (read once, then kept in memory), OAuth access tokens
// from the token manager.
type keychainCredentials struct {
	keys   secrets.Keychain
	tokens *tokens.Manager
	kinds  func(id string) pool.Kind

	mu    sync.Mutex
	cache map[string]relay.Credential // API-key accounts, and proxy passwords
}

func (c *keychainCredentials) Credential(ctx context.Context, id string) (relay.Credential, error) {
	base, err := c.static(id)
	if err != nil {
		return relay.Credential{}, err
	}
	if !provider.IsOAuth(c.kinds(id)) {
		return base, nil
	}
	t, err := c.tokens.Token(ctx, id)
	if err != nil {
		return relay.Credential{}, err
	}
	base.APIKey = t.Access
	return base, nil
}

func (c *keychainCredentials) Refresh(ctx context.Context, id string, stale relay.Credential) (relay.Credential, error) {
	base, err := c.static(id)
	if err != nil {
		return relay.Credential{}, err
	}
	t, err := c.tokens.ForceRefresh(ctx, id, stale.APIKey)
	if err != nil {
		return relay.Credential{}, err
	}
	base.APIKey = t.Access
	return base, nil
}

// static returns the API key (for key accounts) and proxy password.
func (c *keychainCredentials) static(id string) (relay.Credential, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cred, ok := c.cache[id]; ok {
		return cred, nil
	}
	var cred relay.Credential
	if !provider.IsOAuth(c.kinds(id)) {
		s, err := c.keys.Get(secrets.Account(id), secrets.APIKey)
		if errors.Is(err, secrets.ErrNotFound) {
			return relay.Credential{}, fmt.Errorf("account %s: %w: %w", id, pool.ErrNeedsKey, err)
		}
		if err != nil {
			return relay.Credential{}, fmt.Errorf("account %s: %w", id, err)
		}
		cred.APIKey = s.Reveal()
	}
	if s, err := c.keys.Get(secrets.Account(id), secrets.ProxyPassword); err == nil {
		cred.ProxyPassword = s.Reveal()
	} else if !errors.Is(err, secrets.ErrNotFound) {
		return relay.Credential{}, fmt.Errorf("account %s: %w", id, err)
	}
	if c.cache == nil {
		c.cache = map[string]relay.Credential{}
	}
	c.cache[id] = cred
	return cred, nil
}

// markMissing marks the accounts whose secrets are not in the keychain, so
// that they show what they need (a key, a login) from the start instead of
// failing on their first request. An account whose secrets cannot be read
// (a locked keychain) is left as it is: the keychain wait deals with that.
func markMissing(keys secrets.Keychain, list []pool.Account) {
	missing := func(id string, f secrets.Field) bool {
		_, err := keys.Get(secrets.Account(id), f)
		return errors.Is(err, secrets.ErrNotFound)
	}
	for i := range list {
		a := &list[i]
		if provider.IsOAuth(a.Kind) {
			a.NeedsLogin = a.NeedsLogin || missing(a.ID, secrets.RefreshToken) && missing(a.ID, secrets.AccessToken)
		} else {
			a.NeedsKey = missing(a.ID, secrets.APIKey)
		}
	}
}

// forget drops a cached API key or proxy password after the account
// changed. Token state is the token manager's (Replace on a new login).
func (c *keychainCredentials) forget(id string) {
	c.mu.Lock()
	delete(c.cache, id)
	c.mu.Unlock()
}

// httpClientFor is an HTTP client that goes through the account's proxy, for
// token refreshes.
func httpClientFor(p *pool.Proxy, password string) (*http.Client, error) {
	t, err := upstream.NewTransport(p, password)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: t, Timeout: 30 * time.Second}, nil
}
