package app

import (
	"encoding/json"
	"errors"
	"os"

	"keypool/app/secrets"
	"keypool/app/store"
)

// ClientAccess is what a CLI needs to reach the relay: its base URL and a
// client key ("keypool" when the relay needs none).
type ClientAccess struct {
	Base string
	Key  string
}

// Access finds where the relay of p's data dir listens and a client key:
// from the running relay when one holds the data dir, else from the
// config file or the app's saved settings and keys.
func Access(p Params, keys secrets.Keychain) (ClientAccess, error) {
	cfg, err := LoadConfig(p)
	if err != nil {
		return ClientAccess{}, err
	}
	dbPath, err := DatabasePath(p, cfg)
	if err != nil {
		return ClientAccess{}, err
	}
	acc := ClientAccess{Base: "http://" + clientAddr(cfg.Addr()), Key: "keypool"}
	if len(cfg.APIKeys) > 0 {
		acc.Key = cfg.APIKeys[0]
	}
	if b, err := os.ReadFile(RunFile(dbPath)); err == nil {
		var ri RunInfo
		if json.Unmarshal(b, &ri) == nil && ri.Addr != "" {
			acc.Base = "http://" + clientAddr(ri.Addr)
		}
	}
	if p.ConfigPath != "" {
		return acc, nil
	}
	st, err := store.OpenReadOnly(dbPath, 200*timeMillisecond)
	switch {
	case errors.Is(err, store.ErrLocked):
		r, derr := DialAccounts(dbPath)
		if derr != nil {
			return acc, derr
		}
		var out struct{ Key string }
		if err := r.call("GET", "/v1/clientkey", nil, &out); err != nil {
			return acc, err
		}
		if out.Key != "" {
			acc.Key = out.Key
		}
		return acc, nil
	case errors.Is(err, os.ErrNotExist):
		return acc, nil
	case err != nil:
		return acc, err
	}
	defer st.Close()
	if host, port := savedListenOf(st); port != 0 && p.Port == 0 {
		if host == "" {
			host = cfg.Server.Host
		}
		acc.Base = "http://" + clientAddr(joinHostPort(host, port))
	}
	list, err := st.ClientKeys()
	if err != nil || len(list) == 0 {
		return acc, err
	}
	s, err := keys.Get(secrets.ClientKey(list[0].ID), secrets.APIKey)
	if err != nil {
		return acc, err
	}
	acc.Key = s.Reveal()
	return acc, nil
}
