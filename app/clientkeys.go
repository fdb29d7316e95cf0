package app

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/relay/guard"
)

// Local client keys (the keys Claude Code, Codex and Gemini CLI present to
// the relay) of the app's own store: names in bbolt, keys in the keychain.
// With none, the relay answers any local program (loopback only).

func clientKeyAccount(id string) string { return "client-" + id }

// ClientKeys lists the local client keys (names only).
func (a *App) ClientKeys() ([]store.ClientKey, error) { return a.store.ClientKeys() }

// ClientKeySecret is a client key's value, for showing or copying it.
func (a *App) ClientKeySecret(id string) (secrets.Secret, error) {
	return a.accounts.Keys.Get(clientKeyAccount(id), secrets.APIKey)
}

// AddClientKey makes a new random client key and starts requiring keys.
func (a *App) AddClientKey(label string) (store.ClientKey, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return store.ClientKey{}, err
	}
	value := "kp-" + base64.RawURLEncoding.EncodeToString(b)
	k := store.ClientKey{ID: guard.KeyID(value), Label: label, Created: a.now()}
	if err := a.accounts.Keys.Set(clientKeyAccount(k.ID), secrets.APIKey, secrets.New(value)); err != nil {
		return store.ClientKey{}, err
	}
	if err := a.store.PutClientKey(k); err != nil {
		a.accounts.Keys.DeleteAccount(clientKeyAccount(k.ID))
		return store.ClientKey{}, err
	}
	return k, a.loadClientKeys()
}

// RevokeClientKey stops accepting a client key.
func (a *App) RevokeClientKey(id string) error {
	if err := a.accounts.Keys.DeleteAccount(clientKeyAccount(id)); err != nil {
		return fmt.Errorf("client key %s: %w", id, err)
	}
	if err := a.store.DeleteClientKey(id); err != nil {
		return err
	}
	return a.loadClientKeys()
}

// loadClientKeys hands the relay the store's client keys.
func (a *App) loadClientKeys() error {
	// One load at a time: a resume from the keychain wait must not set an
	// older list over a revoke's newer one.
	a.clientKeysMu.Lock()
	defer a.clientKeysMu.Unlock()
	list, err := a.store.ClientKeys()
	if err != nil {
		return err
	}
	var keys []string
	for _, k := range list {
		s, err := a.accounts.Keys.Get(clientKeyAccount(k.ID), secrets.APIKey)
		if err != nil {
			return fmt.Errorf("client key %s: %w", k.ID, err)
		}
		keys = append(keys, s.Reveal())
	}
	if a.relay != nil {
		a.relay.SetClientKeys(keys)
	}
	return nil
}
