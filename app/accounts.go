package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"keypool/app/config"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/relay/pool"
	"keypool/relay/provider"
)

// AccountChanger changes the app's own accounts: Accounts on the store
// itself, or a client of a running relay's control socket.
type AccountChanger interface {
	Add(acct store.Account, sec map[secrets.Field]secrets.Secret) error
	SaveLogin(acct store.Account, sec map[secrets.Field]secrets.Secret) error
	Remove(id string) error
	SetEnabled(id string, on bool) error
	SetAllowOverage(id string, on bool) error
	Account(id string) (store.Account, error)
}

var _ AccountChanger = (*Accounts)(nil)

// Accounts manages the app's own accounts: metadata in the store, every
// secret in the keychain, one entry per account and field.
type Accounts struct {
	Store *store.Store
	Keys  secrets.Keychain
	Now   func() time.Time
}

// ErrExists is returned when adding an account whose id is taken.
var ErrExists = errors.New("account exists")

// Add stores a new account. Secrets go to the keychain first; if the
// metadata cannot be saved they are removed again, so nothing is left half
// added.
func (a *Accounts) Add(acct store.Account, sec map[secrets.Field]secrets.Secret) error {
	if err := a.validate(acct, sec); err != nil {
		return err
	}
	if _, err := a.Store.Account(acct.ID); err == nil {
		return fmt.Errorf("%w: %s (remove it first, or choose another id)", ErrExists, acct.ID)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if acct.Created.IsZero() {
		acct.Created = a.now()
	}
	if acct.Name == "" {
		acct.Name = acct.ID
	}
	if err := a.setSecrets(acct.ID, sec); err != nil {
		return err
	}
	if err := a.Store.PutAccount(acct); err != nil {
		a.Keys.DeleteAll(secrets.Account(acct.ID))
		return err
	}
	return nil
}

// SaveLogin stores an account after a login: a new one, or new tokens and
// identity for an existing one (which also clears "needs login").
func (a *Accounts) SaveLogin(acct store.Account, sec map[secrets.Field]secrets.Secret) error {
	old, err := a.Store.Account(acct.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return a.Add(acct, sec)
	case err != nil:
		return err
	}
	if old.Type != acct.Type {
		return fmt.Errorf("%w: %s is a %s account, not %s", ErrExists, acct.ID, old.Type, acct.Type)
	}
	// Refresh token first: it is the one that cannot be had again.
	if err := a.setSecrets(acct.ID, sec); err != nil {
		return err
	}
	// Tokens of the old session that the new login did not bring (a setup
	// token has no refresh token) must not be used with it.
	for _, f := range []secrets.Field{secrets.RefreshToken, secrets.AccessToken, secrets.IDToken} {
		if s, ok := sec[f]; !ok || s.IsZero() {
			if err := a.Keys.Delete(secrets.Account(acct.ID), f); err != nil {
				return fmt.Errorf("account %s: %w", acct.ID, err)
			}
		}
	}
	return a.Store.UpdateAccount(acct.ID, func(s *store.Account) error {
		s.Status, s.StatusWhy = store.StatusOK, ""
		s.Expiry = acct.Expiry
		s.LoginExpiry = acct.LoginExpiry
		if acct.ConvertedTraffic {
			s.ConvertedTraffic = true
		}
		if acct.AllowOverage {
			s.AllowOverage = true
		}
		for _, kv := range [][2]*string{{&s.Email, &acct.Email}, {&s.AccountID, &acct.AccountID}, {&s.PlanType, &acct.PlanType}, {&s.Project, &acct.Project}} {
			if *kv[1] != "" {
				*kv[0] = *kv[1]
			}
		}
		return nil
	})
}

// setSecrets writes secrets in a fixed order, refresh token first.
func (a *Accounts) setSecrets(id string, sec map[secrets.Field]secrets.Secret) error {
	for _, f := range []secrets.Field{secrets.RefreshToken, secrets.AccessToken, secrets.IDToken, secrets.APIKey, secrets.ProxyPassword} {
		if s, ok := sec[f]; ok && !s.IsZero() {
			if err := a.Keys.Set(secrets.Account(id), f, s); err != nil {
				return fmt.Errorf("account %s: %w", id, err)
			}
		}
	}
	return nil
}

func (a *Accounts) validate(acct store.Account, sec map[secrets.Field]secrets.Secret) error {
	if !pool.ValidID(acct.ID) {
		return fmt.Errorf("account id %q %s", acct.ID, pool.IDRule)
	}
	kind := provider.For(acct.Type)
	if kind == nil {
		return fmt.Errorf("account %s: unknown type %q", acct.ID, acct.Type)
	}
	has := func(f secrets.Field) bool { s, ok := sec[f]; return ok && !s.IsZero() }
	if kind.IsOAuth() {
		if !has(secrets.RefreshToken) && !has(secrets.AccessToken) {
			return fmt.Errorf("account %s: a %s account needs a login (keypool login) or a token", acct.ID, acct.Type)
		}
	} else if !has(secrets.APIKey) {
		return fmt.Errorf("account %s: a %s account needs an API key", acct.ID, acct.Type)
	}
	if acct.DailyBudgetUSD < 0 || acct.MonthlyBudgetUSD < 0 {
		return fmt.Errorf("account %s: a budget must not be negative (0: no cap)", acct.ID)
	}
	if acct.AllowOverage && !KindHasOverage(acct.Type) {
		return fmt.Errorf("account %s: %w", acct.ID, errNoOverage(acct.Type))
	}
	if kind.NeedsAPIURL && acct.APIURL == "" {
		return fmt.Errorf("account %s: an %s account needs --api-url (its base, e.g. https://host/v1)", acct.ID, acct.Type)
	}
	if acct.AuthHeader != "" && acct.AuthHeader != string(pool.AuthXAPIKey) && acct.AuthHeader != string(pool.AuthBearer) {
		return fmt.Errorf("account %s: auth header %q is not one of x-api-key, bearer", acct.ID, acct.AuthHeader)
	}
	return nil
}

// Remove deletes an account: its keychain entries first, so a failure there
// leaves the account listed (and removable later) rather than orphaning
// secrets.
func (a *Accounts) Remove(id string) error {
	if _, err := a.Store.Account(id); err != nil {
		return err
	}
	if err := a.Keys.DeleteAll(secrets.Account(id)); err != nil {
		return fmt.Errorf("account %s: remove its secrets: %w", id, err)
	}
	return a.Store.DeleteAccount(id)
}

// SetAllowOverage lets a subscription serve on paid extra usage once its
// plan is spent, or stops it.
func (a *Accounts) SetAllowOverage(id string, on bool) error {
	return a.Store.UpdateAccount(id, func(s *store.Account) error {
		if on && !KindHasOverage(s.Type) {
			return fmt.Errorf("account %s: %w", id, errNoOverage(s.Type))
		}
		s.AllowOverage = on
		return nil
	})
}

// errNoOverage says that accounts of kind k have no paid extra usage.
func errNoOverage(k pool.Kind) error {
	return fmt.Errorf("a %s account has no paid extra usage to allow; only a Claude Pro/Max subscription (claude-oauth) does, and API keys are billed as they are", k)
}

// SetEnabled switches an account on or off.
func (a *Accounts) SetEnabled(id string, on bool) error {
	return a.Store.UpdateAccount(id, func(s *store.Account) error { s.Enabled = on; return nil })
}

// Account returns one stored account.
func (a *Accounts) Account(id string) (store.Account, error) { return a.Store.Account(id) }

// Import moves a seed-format config's accounts into the store, secrets into
// the keychain. Accounts whose id exists are skipped and reported.
func Import(a AccountChanger, cfg *config.File) (added, skipped []string, err error) {
	for _, ca := range cfg.Accounts {
		acct, sec := fromConfig(ca)
		if err := a.Add(acct, sec); err != nil {
			if errors.Is(err, ErrExists) {
				skipped = append(skipped, ca.ID)
				continue
			}
			return added, skipped, err
		}
		added = append(added, ca.ID)
	}
	return added, skipped, nil
}

func (a *Accounts) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// Update changes an account's settings; a non-empty key replaces its secret
// (API key, or a token for OAuth types).
func (a *Accounts) Update(id string, change func(*store.Account), newKey secrets.Secret, proxyPassword secrets.Secret) error {
	cur, err := a.Store.Account(id)
	if err != nil {
		return err
	}
	next := cur
	change(&next)
	next.ID, next.Type = cur.ID, cur.Type
	if next.AuthHeader != "" && next.AuthHeader != string(pool.AuthXAPIKey) && next.AuthHeader != string(pool.AuthBearer) {
		return fmt.Errorf("account %s: auth header %q is not one of x-api-key, bearer", id, next.AuthHeader)
	}
	if next.AllowOverage && !KindHasOverage(cur.Type) {
		return fmt.Errorf("account %s: %w", id, errNoOverage(cur.Type))
	}
	if !newKey.IsZero() {
		f := secrets.APIKey
		if provider.IsOAuth(cur.Type) {
			f = secrets.AccessToken
		}
		if err := a.Keys.Set(secrets.Account(id), f, newKey); err != nil {
			return err
		}
	}
	if !proxyPassword.IsZero() {
		if err := a.Keys.Set(secrets.Account(id), secrets.ProxyPassword, proxyPassword); err != nil {
			return err
		}
	}
	return a.Store.UpdateAccount(id, func(s *store.Account) error { *s = next; return nil })
}

// TestProxy checks that an HTTP request to target gets an answer through
// the proxy (any HTTP status will do).
func TestProxy(ctx context.Context, p *store.Proxy, password, target string) error {
	client, err := httpClientFor(poolAccount(store.Account{Proxy: p}).Proxy, password)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, target, nil)
	if err != nil {
		return fmt.Errorf("test %s: %w", target, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("through proxy %s:%d: %w", p.Host, p.Port, err)
	}
	resp.Body.Close()
	return nil
}
