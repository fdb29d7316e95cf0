package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"keypool/app/secrets"
	"keypool/app/store"
)

// ClientAccess is what a CLI needs to reach the relay: its base URL and a
// client key ("keypool" when the relay needs none).
type ClientAccess struct {
	Base string
	Key  string
	// StatusLine, for Claude Code, is the command its status line runs
	// (keypool statusline); "": the status line is left alone.
	StatusLine string
}

// Access finds where the relay of p's data dir listens and a client key:
// from the running relay when one holds the data dir, else from the
// config file or the app's saved settings and keys.
func Access(p Params, keys secrets.Keychain) (ClientAccess, error) {
	return AccessFor(p, keys, "")
}

// AccessFor is Access with the key of a profile ("": a key for the whole
// pool), for a project's CLI.
func AccessFor(p Params, keys secrets.Keychain, profile string) (ClientAccess, error) {
	setup, err := Resolve(p)
	if err != nil {
		return ClientAccess{}, err
	}
	cfg, dbPath := setup.Config, setup.Files.DB
	srv := cfg.Server
	acc := ClientAccess{Base: baseURL(cfg.Addr(), srv.TLS(), srv.PublicName), Key: "keypool"}
	if len(cfg.APIKeys) > 0 {
		acc.Key = cfg.APIKeys[0]
	}
	if b, err := os.ReadFile(setup.Files.RunFile()); err == nil {
		var ri RunInfo
		if json.Unmarshal(b, &ri) == nil && ri.Addr != "" {
			acc.Base = baseURL(ri.Addr, ri.TLSCert != "", srv.PublicName)
		}
	}
	if p.ConfigPath != "" {
		if profile != "" {
			return acc, errNoStoreProfiles
		}
		return acc, nil
	}
	st, err := store.OpenReadOnly(dbPath, 200*time.Millisecond)
	switch {
	case errors.Is(err, store.ErrLocked):
		r, derr := DialAccounts(dbPath)
		if derr != nil {
			return acc, derr
		}
		var out struct{ Key string }
		if err := r.call("GET", "/v1/clientkey?profile="+url.QueryEscape(profile), nil, &out); err != nil {
			return acc, err
		}
		if out.Key != "" {
			acc.Key = out.Key
		}
		return acc, nil
	case errors.Is(err, os.ErrNotExist):
		if profile != "" {
			return acc, fmt.Errorf("%w: %s (Keypool has no store here yet)", ErrNoProfile, profile)
		}
		return acc, nil
	case err != nil:
		return acc, err
	}
	defer st.Close()
	if host, port := savedListen(st); port != 0 && p.Port == 0 {
		if host == "" {
			host = cfg.Server.Host
		}
		acc.Base = baseURL(joinHostPort(host, port), srv.TLS(), srv.PublicName)
	}
	list, err := st.ClientKeys()
	if err != nil {
		return acc, err
	}
	if list, err = keysFor(list, profile); err != nil || len(list) == 0 {
		return acc, err
	}
	if layout, _ := st.Setting(settingKeychainLayout); layout != keychainLayoutOwners {
		// Keypool has not run since its update: move the keychain's entries
		// to their new names first, on the store opened for writing.
		st.Close()
		if st, err = setup.openStore(); err != nil {
			return acc, err
		}
		if err := (&Accounts{Store: st, Keys: keys}).MigrateKeychain(nil); err != nil {
			return acc, err
		}
	}
	s, err := FirstClientKey(keys, list)
	if err != nil {
		return acc, err
	}
	acc.Key = s.Reveal()
	return acc, nil
}

// keysFor are the keys of list a CLI may be given: the profile's, or
// those for the whole pool.
func keysFor(list []store.ClientKey, profile string) ([]store.ClientKey, error) {
	if profile == "" {
		return poolKeys(list), nil
	}
	for _, k := range list {
		if k.Profile == profile {
			return []store.ClientKey{k}, nil
		}
	}
	return nil, fmt.Errorf("%w: %s (keypool profiles list shows them)", ErrNoProfile, profile)
}

// FirstClientKey is the value of the first client key whose secret can be
// read: the one keypool env, connect and the window's Connect hand to a CLI.
// A broken key is passed over.
func FirstClientKey(keys secrets.Keychain, list []store.ClientKey) (secrets.Secret, error) {
	var firstErr error
	for _, k := range list {
		s, err := keys.Get(secrets.ClientKey(k.ID), secrets.APIKey)
		switch {
		case err == nil:
			return s, nil
		case keychainUnavailable(err):
			return secrets.Secret{}, fmt.Errorf("client key %s: %w", k.ID, err)
		case firstErr == nil:
			firstErr = fmt.Errorf("client key %s: %w", k.ID, err)
		}
	}
	return secrets.Secret{}, fmt.Errorf("no client key can be read (%w): remove the broken ones and add one with keypool client-keys add", firstErr)
}
