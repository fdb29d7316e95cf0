package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"keypool/app/secrets"
	"keypool/app/store"
)

// The control socket lets account commands (keypool accounts, login,
// import) change a running relay's accounts: bbolt lets only the relay's
// process hold the store. It is a Unix socket in the data dir, reachable only
// by the user who owns that directory; nothing listens on TCP.

// ControlSocket is the control socket next to the database at dbPath.
func ControlSocket(dbPath string) string { return filepath.Join(filepath.Dir(dbPath), "control.sock") }

// wireAccount is an account change as it crosses the socket. Secrets travel
// as plain strings here only: secrets.Secret refuses to marshal.
type wireAccount struct {
	Account store.Account     `json:"account"`
	Secrets map[string]string `json:"secrets,omitempty"`
	Login   bool              `json:"login,omitempty"`
}

type wireError struct {
	Error    string `json:"error"`
	NotFound bool   `json:"not_found,omitempty"`
	Exists   bool   `json:"exists,omitempty"`
}

// controlHandler serves account changes against the app's store and tells
// the relay about each.
func (a *App) controlHandler() http.Handler {
	mux := http.NewServeMux()
	accountMux := http.NewServeMux() // account changes: only with the app's own store
	accountMux.HandleFunc("POST /v1/accounts", func(w http.ResponseWriter, r *http.Request) {
		var in wireAccount
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
			writeWireError(w, fmt.Errorf("bad request: %w", err))
			return
		}
		sec := map[secrets.Field]secrets.Secret{}
		for f, v := range in.Secrets {
			sec[secrets.Field(f)] = secrets.New(v)
		}
		var err error
		if in.Login {
			// Under the account's refresh lock: a refresh in flight must not
			// overwrite the new login's tokens.
			err = a.tokens.Replace(in.Account.ID, func() error { return a.accounts.SaveLogin(in.Account, sec) })
		} else {
			err = a.accounts.Add(in.Account, sec)
		}
		a.answer(w, nil, err, true)
	})
	accountMux.HandleFunc("GET /v1/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		acct, err := a.accounts.Account(r.PathValue("id"))
		a.answer(w, acct, err, false)
	})
	accountMux.HandleFunc("DELETE /v1/accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		a.answer(w, nil, a.tokens.Replace(id, func() error { return a.accounts.Remove(id) }), true)
	})
	// An account's switches: the body names the one it sets, {"Enabled": true}.
	accountSwitch := func(field string, set func(id string, on bool) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var in map[string]bool
			if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil {
				writeWireError(w, fmt.Errorf("bad request: %w", err))
				return
			}
			a.answer(w, nil, set(r.PathValue("id"), in[field]), true)
		}
	}
	accountMux.HandleFunc("POST /v1/accounts/{id}/allow-overage", accountSwitch("Allow", func(id string, on bool) error { return a.accounts.SetAllowOverage(id, on) }))
	accountMux.HandleFunc("POST /v1/accounts/{id}/enabled", accountSwitch("Enabled", func(id string, on bool) error { return a.accounts.SetEnabled(id, on) }))
	accountMux.HandleFunc("GET /v1/clientkey", func(w http.ResponseWriter, r *http.Request) {
		// The first client key, for keypool env (the socket is the owner's).
		var out struct{ Key string }
		list, err := a.store.ClientKeys()
		if err == nil {
			list, err = keysFor(list, r.URL.Query().Get("profile"))
		}
		if err == nil && len(list) > 0 {
			var s secrets.Secret
			if s, err = FirstClientKey(a.clientKeys.keys, list); err == nil {
				out.Key = s.Reveal()
			}
		}
		a.answer(w, out, err, false)
	})
	accountMux.HandleFunc("GET /v1/clientkeys", func(w http.ResponseWriter, r *http.Request) {
		list, err := a.clientKeys.storeOf().ListClientKeys() // each checked now
		a.answer(w, list, err, false)
	})
	accountMux.HandleFunc("POST /v1/clientkeys", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Label string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil {
			writeWireError(w, fmt.Errorf("bad request: %w", err))
			return
		}
		k, value, err := a.clientKeys.storeOf().AddClientKey(in.Label)
		if err == nil {
			err = a.clientKeys.load()
		}
		a.answer(w, wireClientKey{Key: k, Value: value.Reveal()}, err, false)
	})
	accountMux.HandleFunc("POST /v1/projects/reload", func(w http.ResponseWriter, r *http.Request) {
		a.loadFolderRoutes()
		a.answer(w, nil, nil, false)
	})
	accountMux.HandleFunc("GET /v1/profiles", func(w http.ResponseWriter, r *http.Request) {
		list, err := a.clientKeys.storeOf().ListProfiles()
		a.answer(w, list, err, false)
	})
	accountMux.HandleFunc("POST /v1/profiles", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name     string
			Accounts []string
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
			writeWireError(w, fmt.Errorf("bad request: %w", err))
			return
		}
		p, value, err := a.AddProfile(in.Name, in.Accounts)
		a.answer(w, wireProfile{Profile: p, Value: value.Reveal()}, err, false)
	})
	accountMux.HandleFunc("DELETE /v1/profiles/{name}", func(w http.ResponseWriter, r *http.Request) {
		a.answer(w, nil, a.RemoveProfile(r.PathValue("name")), false)
	})
	accountMux.HandleFunc("DELETE /v1/clientkeys/{id}", func(w http.ResponseWriter, r *http.Request) {
		a.answer(w, nil, a.RevokeClientKey(r.PathValue("id")), false)
	})
	mux.HandleFunc("GET /v1/records", func(w http.ResponseWriter, r *http.Request) {
		since, _ := time.Parse(time.RFC3339Nano, r.URL.Query().Get("since"))
		a.store.Flush(r.Context())
		recs, err := a.store.Records(since, time.Time{}, 0)
		a.answer(w, recs, err, false)
	})
	mux.HandleFunc("POST /v1/show", func(w http.ResponseWriter, r *http.Request) {
		// A second launch asks the running app to come forward.
		if show := a.onShow.Load(); show != nil {
			(*show)()
		}
		a.answer(w, nil, nil, false)
	})
	mux.HandleFunc("GET /v1/session/{id}", func(w http.ResponseWriter, r *http.Request) {
		// keypool statusline: which account serves a Claude Code session.
		a.answer(w, a.relay.Session(r.PathValue("id")), nil, false)
	})
	mux.HandleFunc("POST /v1/accounts/{id}/reset", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !a.relay.Has(id) {
			writeWireError(w, fmt.Errorf("account %s: %w", id, store.ErrNotFound))
			return
		}
		a.ResetAccount(id)
		a.answer(w, nil, nil, false)
	})
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if a.accounts == nil {
			writeWireError(w, errors.New("this relay serves a config file: change its accounts there"))
			return
		}
		accountMux.ServeHTTP(w, r)
	})
	return mux
}

// OnShow sets what a second launch of Keypool does to this one (bring its
// window forward).
func (a *App) OnShow(fn func()) { a.onShow.Store(&fn) }

// ShowRunning asks the Keypool that holds dbPath to bring its window
// forward.
func ShowRunning(dbPath string) error {
	r, err := DialAccounts(dbPath)
	if err != nil {
		return err
	}
	return r.call("POST", "/v1/show", struct{}{}, nil)
}

// answer writes v or err, and reloads the relay's accounts after a change.
func (a *App) answer(w http.ResponseWriter, v any, err error, changed bool) {
	if err != nil {
		writeWireError(w, err)
		return
	}
	if changed {
		a.ReloadAccounts()
	}
	w.Header().Set("Content-Type", "application/json")
	if v == nil {
		v = struct{}{}
	}
	json.NewEncoder(w).Encode(v)
}

func writeWireError(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(wireError{Error: err.Error(), NotFound: errors.Is(err, store.ErrNotFound), Exists: errors.Is(err, ErrExists)})
}

// controlSocket serves account changes from the commands (and a second
// launch's "show yourself") on the control socket.
type controlSocket struct {
	ln   net.Listener
	srv  *http.Server
	path string
	log  *slog.Logger
}

// listenControl opens the control socket, replacing a stale one left by a
// relay that died (the store lock proves no other relay holds this dir).
func listenControl(path string, h http.Handler, log *slog.Logger) (*controlSocket, error) {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	// The data dir is 0700 already; the socket itself is the owner's too.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return &controlSocket{ln: l, path: path, log: log,
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// Run serves until ctx is done, then closes the server. The relay goes on
// if the socket fails: only account commands are turned away.
func (c *controlSocket) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- c.srv.Serve(c.ln) }()
	select {
	case <-ctx.Done():
		c.srv.Close()
		<-served
	case err := <-served:
		c.srv.Close()
		c.log.Warn("the control socket stopped; account commands will not reach this relay", "err", err)
	}
	return nil
}

// close gives back the socket and removes its file.
func (c *controlSocket) close() {
	c.ln.Close()
	os.Remove(c.path)
}

// RemoteAccounts changes the accounts of the relay running on a data dir,
// through its control socket.
type RemoteAccounts struct {
	client *http.Client
}

var _ AccountChanger = (*RemoteAccounts)(nil)

// DialAccounts connects to the control socket of the relay holding dbPath.
func DialAccounts(dbPath string) (*RemoteAccounts, error) {
	sock := ControlSocket(dbPath)
	if _, err := os.Stat(sock); err != nil {
		return nil, fmt.Errorf("the relay holding %s has no control socket (%w): stop it, run this command, and start it again", dbPath, err)
	}
	return &RemoteAccounts{client: &http.Client{Transport: controlTransport(sock), Timeout: 30 * time.Second}}, nil
}

// controlTransport reaches the control socket sock, whatever the URL's host.
func controlTransport(sock string) *http.Transport {
	return &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
}

func (r *RemoteAccounts) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://keypool"+path, body)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("ask the running relay: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var we wireError
		if err := json.NewDecoder(resp.Body).Decode(&we); err != nil {
			return fmt.Errorf("the running relay answered %s", resp.Status)
		}
		msg := strings.TrimSpace(we.Error)
		switch {
		case we.NotFound:
			return fmt.Errorf("%s: %w", msg, store.ErrNotFound)
		case we.Exists:
			return fmt.Errorf("%s: %w", msg, ErrExists)
		}
		return errors.New(msg)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func wireSecrets(sec map[secrets.Field]secrets.Secret) map[string]string {
	out := make(map[string]string, len(sec))
	for f, s := range sec {
		if !s.IsZero() {
			out[string(f)] = s.Reveal()
		}
	}
	return out
}

func (r *RemoteAccounts) Add(acct store.Account, sec map[secrets.Field]secrets.Secret) error {
	return r.call("POST", "/v1/accounts", wireAccount{Account: acct, Secrets: wireSecrets(sec)}, nil)
}

func (r *RemoteAccounts) SaveLogin(acct store.Account, sec map[secrets.Field]secrets.Secret) error {
	return r.call("POST", "/v1/accounts", wireAccount{Account: acct, Secrets: wireSecrets(sec), Login: true}, nil)
}

func (r *RemoteAccounts) Remove(id string) error {
	return r.call("DELETE", "/v1/accounts/"+url.PathEscape(id), nil, nil)
}

// SetAllowOverage lets a subscription use paid extra usage, or stops it, in
// the running relay's store.
func (r *RemoteAccounts) SetAllowOverage(id string, on bool) error {
	return r.call("POST", "/v1/accounts/"+url.PathEscape(id)+"/allow-overage", struct{ Allow bool }{on}, nil)
}

// SetEnabled switches an account on or off in the running relay's store.
func (r *RemoteAccounts) SetEnabled(id string, on bool) error {
	return r.call("POST", "/v1/accounts/"+url.PathEscape(id)+"/enabled", struct{ Enabled bool }{on}, nil)
}

// Reset clears the running relay's cooldowns of account id: it serves
// again at once.
func (r *RemoteAccounts) Reset(id string) error {
	return r.call("POST", "/v1/accounts/"+url.PathEscape(id)+"/reset", nil, nil)
}

func (r *RemoteAccounts) Account(id string) (store.Account, error) {
	var a store.Account
	err := r.call("GET", "/v1/accounts/"+url.PathEscape(id), nil, &a)
	return a, err
}
