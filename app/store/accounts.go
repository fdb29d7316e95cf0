package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"keypool/relay/pool"
)

// ErrNotFound is returned for an account id the store does not hold.
var ErrNotFound = errors.New("no such account")

// Account statuses. The empty status is a working account.
const (
	StatusOK         = ""
	StatusNeedsLogin = "needs_login" // its refresh token was refused: log in again
)

// Account is an account's metadata. Its secrets (API key, tokens, proxy
// password) are in the OS keychain, never here.
type Account struct {
	ID         string    `json:"id"`
	Type       pool.Kind `json:"type"`
	Name       string    `json:"name"`
	Priority   int       `json:"priority"`
	Enabled    bool      `json:"enabled"`
	APIURL     string    `json:"api_url,omitempty"`
	AuthHeader string    `json:"auth_header,omitempty"`
	Proxy      *Proxy    `json:"proxy,omitempty"`
	Models     []string  `json:"models,omitempty"` // allowed models, "*" wildcards; none: all
	// ConvertedTraffic lets a subscription account answer OpenAI-format
	// chat too (converted); off by default.
	ConvertedTraffic bool `json:"converted_traffic,omitempty"`
	// AllowOverage lets a subscription serve on its provider's paid extra
	// usage once its plan is spent (after every plan); off by default.
	AllowOverage bool `json:"allow_overage,omitempty"`
	// DailyBudgetUSD and MonthlyBudgetUSD cap an API-key account's spend.
	DailyBudgetUSD   float64   `json:"daily_budget_usd,omitempty"`
	MonthlyBudgetUSD float64   `json:"monthly_budget_usd,omitempty"`
	Status           string    `json:"status,omitempty"`
	StatusWhy        string    `json:"status_why,omitempty"`
	Created          time.Time `json:"created"`

	// Identity and token facts an OAuth login reported (not secret).
	Email     string    `json:"email,omitempty"`
	AccountID string    `json:"account_id,omitempty"` // provider's account id (ChatGPT account, Claude account uuid)
	PlanType  string    `json:"plan_type,omitempty"`
	Project   string    `json:"project,omitempty"` // Gemini Code Assist project
	Expiry    time.Time `json:"expiry,omitzero"`   // when the stored access token expires
	// LoginExpiry is when the refresh token stops working and the user
	// must log in again, where the provider (or a CLI's credentials file)
	// said; zero when unknown.
	LoginExpiry time.Time `json:"login_expiry,omitzero"`
}

// Proxy is an account's proxy, without its password: the relay's own type,
// saved as JSON.
type Proxy = pool.Proxy

// Accounts returns every account, by priority (highest first), then id.
func (s *Store) Accounts() ([]Account, error) {
	var out []Account
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b == nil {
			return nil // a read-only open of a file from before accounts existed
		}
		return b.ForEach(func(k, v []byte) error {
			var a Account
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("account %q: %w", k, err)
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read accounts from %s: %w", s.path, err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Priority != out[j].Priority {
			return out[i].Priority > out[j].Priority
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Account returns one account, or an error wrapping ErrNotFound.
func (s *Store) Account(id string) (Account, error) {
	var a Account
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		if b == nil {
			return ErrNotFound
		}
		v := b.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &a)
	})
	if err != nil {
		return Account{}, fmt.Errorf("account %s: %w", id, err)
	}
	return a, nil
}

// PutAccount creates or replaces an account, in a committed transaction.
func (s *Store) PutAccount(a Account) error {
	if a.ID == "" {
		return errors.New("account id is empty")
	}
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).Put([]byte(a.ID), v)
	}); err != nil {
		return fmt.Errorf("save account %s: %w", a.ID, err)
	}
	return nil
}

// UpdateAccount applies fn to a stored account in one transaction.
func (s *Store) UpdateAccount(id string, fn func(*Account) error) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAccounts)
		v := b.Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		var a Account
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		if err := fn(&a); err != nil {
			return err
		}
		out, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), out)
	})
	if err != nil {
		return fmt.Errorf("update account %s: %w", id, err)
	}
	return nil
}

// DeleteAccount removes an account's metadata; a missing one is not an error.
func (s *Store) DeleteAccount(id string) error {
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAccounts).Delete([]byte(id))
	}); err != nil {
		return fmt.Errorf("delete account %s: %w", id, err)
	}
	return nil
}
