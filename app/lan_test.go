package app_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keypool/app"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/internal/dirtest"
)

// A relay on a host other machines reach must take a client key: the
// check counts the config's api_keys or the store's client keys, and is
// made on the host the relay really listens on, the one saved in Settings
// included. The relay serves on a 127.0.0.1 listener handed over, so
// nothing here listens beyond loopback.
func TestHostBeyondLoopbackNeedsKeys(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	open := func(p app.Params) (*app.App, error) {
		p.Listener, p.Logger = newListener(t), quiet
		return app.Open(p)
	}
	// storeWith makes a data dir whose store holds n client keys, and the
	// listen address lan saved in its settings when it is not "".
	storeWith := func(t *testing.T, n int, saved string) (string, secrets.Keychain) {
		t.Helper()
		dir, keys := dirtest.New(t), secretsMemory()
		st, err := store.Open(filepath.Join(dir, "keypool.db"), store.Options{})
		must(t, err)
		defer st.Close()
		for range n {
			_, _, err := app.ClientKeyStore{Store: st, Keys: keys}.AddClientKey("k")
			must(t, err)
		}
		if saved != "" {
			must(t, st.PutSetting("listen_host", saved))
			must(t, st.PutSetting("listen_port", "3000"))
		}
		return dir, keys
	}
	tests := []struct {
		name    string
		keys    int    // client keys in the store
		saved   string // the host saved in Settings
		host    string // --host
		config  string // a config file's content ("": the app's own store)
		wantErr string // "" : it starts
	}{
		{"flag_without_keys", 0, "", "0.0.0.0", "", "add a client key first"},
		{"flag_with_stored_keys", 1, "", "0.0.0.0", "", ""},
		{"saved_host_without_keys", 0, "0.0.0.0", "", "", "host 0.0.0.0 is reachable from other machines"},
		{"saved_host_with_keys", 1, "0.0.0.0", "", "", ""},
		{"flag_loopback_over_saved", 0, "0.0.0.0", "127.0.0.1", "", ""},
		{"config_without_api_keys", 1, "", "0.0.0.0", "[server]\nhost = \"127.0.0.1\"\n", "set api_keys in"},
		{"config_with_api_keys", 0, "", "0.0.0.0", "api_keys = [\"kp-lan\"]\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, keys := storeWith(t, tt.keys, tt.saved)
			p := app.Params{DataDir: dir, Keychain: keys, Host: tt.host}
			if tt.config != "" {
				p.ConfigPath = filepath.Join(dir, "config.toml")
				must(t, os.WriteFile(p.ConfigPath, []byte(tt.config), 0o600))
			}
			a, err := open(p)
			if err == nil {
				a.Close()
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Open: %v, want it to start", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Open: %v, want it refused: %s", err, tt.wantErr)
			}
		})
	}
}

// The last client key cannot be revoked while the relay listens, or is
// saved to listen, beyond loopback; on loopback it can.
func TestLastClientKeyStaysBeyondLoopback(t *testing.T) {
	tests := []struct {
		name    string
		host    string // --host ("": the saved one, or 127.0.0.1)
		saved   string // the host saved in Settings
		wantErr string // "": the last key goes
	}{
		{"listening_beyond_loopback", "0.0.0.0", "", "Keypool listens on 0.0.0.0"},
		{"saved_beyond_loopback", "", "0.0.0.0", "Keypool listens on 0.0.0.0"},
		{"loopback_now_saved_beyond", "127.0.0.1", "192.0.2.10", "the address saved in Settings is 192.0.2.10"},
		{"loopback", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, keys := dirtest.New(t), secretsMemory()
			r := start(t, app.Params{DataDir: dir, Keychain: keys})
			first, err := r.AddClientKey("first")
			must(t, err)
			if tt.saved != "" {
				must(t, r.SetListen(tt.saved, 3000))
			}
			r.stop()
			r = start(t, app.Params{DataDir: dir, Keychain: keys, Host: tt.host})
			second, err := r.AddClientKey("second")
			must(t, err)
			must(t, r.RevokeClientKey(second.ID)) // another key is left
			err = r.RevokeClientKey(first.ID)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("revoke the last key on loopback: %v, want it gone", err)
				}
				return
			}
			if !errors.Is(err, app.ErrLastClientKey) || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "add another key") {
				t.Fatalf("revoke the last key: %v, want %v saying %q and what to do", err, app.ErrLastClientKey, tt.wantErr)
			}
			if list, _ := r.ClientKeys(); len(list) != 1 {
				t.Errorf("client keys after the refusal: %+v, want the last one kept", list)
			}
			r.stop()
			// Without a relay, keypool client-keys remove reads the saved
			// address alone.
			if tt.saved == "" {
				return
			}
			st, err := store.Open(filepath.Join(dir, "keypool.db"), store.Options{})
			must(t, err)
			defer st.Close()
			if err := (app.ClientKeyStore{Store: st, Keys: keys}).RemoveClientKey(first.ID); !errors.Is(err, app.ErrLastClientKey) {
				t.Errorf("client-keys remove with no relay: %v, want %v", err, app.ErrLastClientKey)
			}
		})
	}
}
