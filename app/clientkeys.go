package app

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/relay"
	"keypool/relay/guard"
)

// Local client keys (the keys Claude Code, Codex and Gemini CLI present to
// the relay) of the app's own store: names in bbolt, keys in the keychain.
// With none, the relay answers any local program (loopback only).

// ClientKeyInfo is a local client key as Settings, keypool status and
// keypool client-keys list show it.
type ClientKeyInfo struct {
	store.ClientKey
	// Broken says why the relay cannot accept this key (its secret is gone
	// from the keychain, say), with what to do; "" when it works.
	Broken string `json:"broken,omitempty"`
}

// ClientKeyChanger manages the local client keys: ClientKeyStore on the
// store itself, or RemoteAccounts on a running relay's control socket.
type ClientKeyChanger interface {
	ListClientKeys() ([]ClientKeyInfo, error)
	// AddClientKey makes a new random key; the value is returned once, to
	// be given to a client.
	AddClientKey(label string) (ClientKeyInfo, secrets.Secret, error)
	RemoveClientKey(id string) error
	// Profiles are client keys too: each names the accounts that serve it.
	ListProfiles() ([]ProfileInfo, error)
	AddProfile(name string, accounts []string) (ProfileInfo, secrets.Secret, error)
	RemoveProfile(name string) error
}

var (
	_ ClientKeyChanger = ClientKeyStore{}
	_ ClientKeyChanger = (*RemoteAccounts)(nil)
)

// ErrNoClientKey is returned when removing a client key that is not there.
var ErrNoClientKey = errors.New("no such client key")

// ErrLastClientKey is returned when removing the last client key would
// leave a relay that other machines reach open to them.
var ErrLastClientKey = errors.New("the last client key stays")

// ClientKeyStore manages the client keys of a store and its keychain.
type ClientKeyStore struct {
	Store *store.Store
	Keys  secrets.Keychain
	Now   func() time.Time // nil: time.Now
	// ListenHost is where the relay on this store listens now ("": none
	// runs). Like the address saved in Settings, a host other machines
	// reach keeps the last client key from being removed.
	ListenHost string
}

// brokenKeyFix is what a client key whose secret is gone needs.
const brokenKeyFix = "its secret is missing from the keychain: remove it and add a new one"

// ListClientKeys lists the keys, oldest first, each checked against the
// keychain.
func (c ClientKeyStore) ListClientKeys() ([]ClientKeyInfo, error) {
	list, err := c.Store.ClientKeys()
	if err != nil {
		return nil, err
	}
	out := make([]ClientKeyInfo, len(list))
	for i, k := range list {
		out[i].ClientKey = k
		if _, err := c.Keys.Get(secrets.ClientKey(k.ID), secrets.APIKey); keychainUnavailable(err) {
			return nil, fmt.Errorf("check client key %s: %w", k.ID, err)
		} else if err != nil {
			out[i].Broken = brokenReason(err)
		}
	}
	return out, nil
}

// PrintClientKeys writes the client keys as a table, or says there are
// none.
func PrintClientKeys(w io.Writer, list []ClientKeyInfo) {
	if len(list) == 0 {
		fmt.Fprintln(w, "No client keys: any program on this computer can use the relay (loopback only). Add one with: keypool client-keys add --name NAME")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT KEY\tNAME\tADDED\tSTATE")
	for _, k := range list {
		state := "ok"
		if k.Broken != "" {
			state = "BROKEN: " + k.Broken + " (keypool client-keys remove " + k.ID + ")"
		}
		if k.Profile != "" {
			// A profile's key says which accounts serve it.
			state += "; served by " + strings.Join(k.Accounts, ", ") + " only"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Label, k.Created.Local().Format("2006-01-02"), state)
	}
	tw.Flush()
}

// brokenReason says why a client key's secret cannot be used.
func brokenReason(err error) string {
	if errors.Is(err, secrets.ErrNotFound) {
		return brokenKeyFix
	}
	return "its secret cannot be read: " + err.Error()
}

// AddClientKey implements ClientKeyChanger.
func (c ClientKeyStore) AddClientKey(label string) (ClientKeyInfo, secrets.Secret, error) {
	return c.addKey(store.ClientKey{Label: label})
}

// addKey makes a new random key for k (its ID is the key's), stores the
// value in the keychain and k in the store.
func (c ClientKeyStore) addKey(k store.ClientKey) (ClientKeyInfo, secrets.Secret, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return ClientKeyInfo{}, secrets.Secret{}, err
	}
	value := secrets.New("kp-" + base64.RawURLEncoding.EncodeToString(b))
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	k.ID, k.Created = guard.KeyID(value.Reveal()), now()
	if err := c.Keys.Set(secrets.ClientKey(k.ID), secrets.APIKey, value); err != nil {
		return ClientKeyInfo{}, secrets.Secret{}, fmt.Errorf("client key %s: %w", k.ID, err)
	}
	if err := c.Store.PutClientKey(k); err != nil {
		c.Keys.DeleteAll(secrets.ClientKey(k.ID))
		return ClientKeyInfo{}, secrets.Secret{}, err
	}
	return ClientKeyInfo{ClientKey: k}, value, nil
}

// RemoveClientKey implements ClientKeyChanger. A key whose secret is gone
// is removed all the same.
func (c ClientKeyStore) RemoveClientKey(id string) error {
	list, err := c.Store.ClientKeys()
	if err != nil {
		return err
	}
	found, general := false, 0
	for _, k := range list {
		found = found || k.ID == id
		if k.Profile == "" {
			general++
		}
	}
	if !found {
		return fmt.Errorf("%w: %s (keypool client-keys list shows them)", ErrNoClientKey, id)
	}
	// Profile keys do not close the relay; only the last key for the whole
	// pool does.
	if general == 1 && !isProfileKey(list, id) {
		if err := c.keepLastKey(id); err != nil {
			return err
		}
	}
	if err := c.Keys.DeleteAll(secrets.ClientKey(id)); err != nil {
		return fmt.Errorf("client key %s: %w", id, err)
	}
	return c.Store.DeleteClientKey(id)
}

// keepLastKey refuses to remove id, the last client key, while the relay
// listens, or is saved to listen, on a host other machines reach: without
// a key it would answer them all.
func (c ClientKeyStore) keepLastKey(id string) error {
	saved, _ := savedListen(c.Store)
	for _, h := range []struct{ host, where string }{
		{c.ListenHost, "Keypool listens on %s"},
		{saved, "the address saved in Settings is %s"},
	} {
		if h.host != "" && !isLoopback(h.host) {
			return fmt.Errorf("%w: %s is the last client key, and "+h.where+", which other machines reach: "+
				"add another key first (keypool client-keys add --name NAME, or Add client key in Settings), "+
				"or set the address to 127.0.0.1 in Settings and restart Keypool", ErrLastClientKey, id, h.host)
		}
	}
	return nil
}

// clientKeys hands the relay the client keys of the app's own store and
// remembers why any of them cannot be used. It has nothing to run: it
// changes when a key is added or revoked, and when the keychain wait
// resumes.
type clientKeys struct {
	store   *store.Store
	keys    secrets.Keychain // nil when serving a config file
	relay   *relay.Server
	log     *slog.Logger
	now     func() time.Time
	changed func()
	// listenHost is where the relay listens.
	listenHost string

	// revokeMu serialises revokes, so that two cannot both find another
	// key left and remove the last two.
	revokeMu sync.Mutex
	// mu serialises load and guards broken: why each client key the relay
	// could not take is left out.
	mu     sync.Mutex
	broken map[string]string
}

// storeOf is the ClientKeyStore these keys live in.
func (c *clientKeys) storeOf() ClientKeyStore {
	return ClientKeyStore{Store: c.store, Keys: c.keys, Now: c.now, ListenHost: c.listenHost}
}

// list lists the keys, each marked when it cannot be used.
func (c *clientKeys) list() ([]ClientKeyInfo, error) {
	if c.keys == nil {
		return nil, nil
	}
	list, err := c.store.ClientKeys()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	broken := c.broken
	c.mu.Unlock()
	out := make([]ClientKeyInfo, len(list))
	for i, k := range list {
		out[i] = ClientKeyInfo{ClientKey: k, Broken: broken[k.ID]}
	}
	return out, nil
}

// load hands the relay the store's client keys. A key whose secret is
// missing is left out and marked broken, so one lost entry never stops
// Keypool; only a keychain that cannot be read at all is an error.
func (c *clientKeys) load() error {
	// One load at a time: a resume from the keychain wait must not set an
	// older list over a revoke's newer one.
	c.mu.Lock()
	defer c.mu.Unlock()
	list, err := c.store.ClientKeys()
	if err != nil {
		return err
	}
	var keys []string
	var profiles []relay.Profile
	general := 0
	broken := map[string]string{}
	for _, k := range list {
		if k.Profile == "" {
			general++
		}
		s, err := c.keys.Get(secrets.ClientKey(k.ID), secrets.APIKey)
		switch {
		case keychainUnavailable(err):
			return fmt.Errorf("client key %s: %w", k.ID, err)
		case err != nil:
			broken[k.ID] = brokenReason(err)
			c.log.Warn("a client key cannot be used; remove it in Settings or with keypool client-keys remove", "key", k.ID, "err", err)
			continue
		}
		if k.Profile != "" {
			profiles = append(profiles, relay.Profile{Name: k.Profile, Accounts: k.Accounts, Key: s.Reveal()})
			continue
		}
		keys = append(keys, s.Reveal())
	}
	if len(keys) == 0 && general > 0 {
		// Every key is broken. The relay must still demand a key (no keys
		// would open it to any local program), so it gets one that nobody
		// knows until a working key is added.
		keys = append(keys, "kp-unusable-"+rand.Text())
	}
	c.broken = broken
	c.relay.SetClientKeys(keys)
	c.relay.SetProfiles(profiles)
	c.changed()
	return nil
}

// ClientKeys lists the local client keys, each marked when it cannot be
// used.
func (a *App) ClientKeys() ([]ClientKeyInfo, error) { return a.clientKeys.list() }

// FirstClientKeySecret is the value of the first client key that works, for
// a CLI's config; the zero Secret when there are no client keys.
func (a *App) FirstClientKeySecret() (secrets.Secret, error) {
	list, err := a.store.ClientKeys()
	if list = poolKeys(list); err != nil || len(list) == 0 {
		return secrets.Secret{}, err
	}
	return FirstClientKey(a.clientKeys.keys, list)
}

// ClientKeySecret is a client key's value, for showing or copying it.
func (a *App) ClientKeySecret(id string) (secrets.Secret, error) {
	return a.clientKeys.keys.Get(secrets.ClientKey(id), secrets.APIKey)
}

// AddClientKey makes a new random client key and starts requiring keys.
func (a *App) AddClientKey(label string) (ClientKeyInfo, error) {
	k, _, err := a.clientKeys.storeOf().AddClientKey(label)
	if err != nil {
		return ClientKeyInfo{}, err
	}
	return k, a.clientKeys.load()
}

// RevokeClientKey stops accepting a client key. The last one stays while
// Keypool listens, or is saved to listen, beyond loopback
// (ErrLastClientKey).
func (a *App) RevokeClientKey(id string) error {
	a.clientKeys.revokeMu.Lock()
	defer a.clientKeys.revokeMu.Unlock()
	if err := a.clientKeys.storeOf().RemoveClientKey(id); err != nil {
		return err
	}
	return a.clientKeys.load()
}

// The control socket's client-key calls, for keypool client-keys while a
// relay holds the data dir.

// ListClientKeys implements ClientKeyChanger.
func (r *RemoteAccounts) ListClientKeys() ([]ClientKeyInfo, error) {
	var out []ClientKeyInfo
	err := r.call("GET", "/v1/clientkeys", nil, &out)
	return out, err
}

// wireClientKey is a new client key as it crosses the socket: the value
// travels once, as a plain string (secrets.Secret refuses to marshal).
type wireClientKey struct {
	Key   ClientKeyInfo `json:"key"`
	Value string        `json:"value"`
}

// AddClientKey implements ClientKeyChanger.
func (r *RemoteAccounts) AddClientKey(label string) (ClientKeyInfo, secrets.Secret, error) {
	var out wireClientKey
	if err := r.call("POST", "/v1/clientkeys", struct{ Label string }{label}, &out); err != nil {
		return ClientKeyInfo{}, secrets.Secret{}, err
	}
	return out.Key, secrets.New(out.Value), nil
}

// RemoveClientKey implements ClientKeyChanger.
func (r *RemoteAccounts) RemoveClientKey(id string) error {
	return r.call("DELETE", "/v1/clientkeys/"+url.PathEscape(id), nil, nil)
}

// keychainLayout is the store setting that names the keychain layout its
// entries use; keychainLayoutOwners is today's (see secrets.Owner).
const (
	settingKeychainLayout = "keychain_layout"
	keychainLayoutOwners  = "owners"
)

// MigrateKeychain moves the store's keychain entries from the first layout,
// where an account and a client key could share an entry, to today's names;
// once per data dir. It runs wherever the store is opened for writing with
// the keychain at hand, before any secret is read.
func (a *Accounts) MigrateKeychain(log *slog.Logger) error {
	if v, err := a.Store.Setting(settingKeychainLayout); err != nil {
		return err
	} else if v == keychainLayoutOwners {
		return nil
	}
	accts, err := a.Store.Accounts()
	if err != nil {
		return err
	}
	keys, err := a.Store.ClientKeys()
	if err != nil {
		return err
	}
	if len(accts)+len(keys) > 0 {
		ids := make([]string, len(accts))
		for i, s := range accts {
			ids[i] = s.ID
		}
		keyIDs := make([]string, len(keys))
		for i, k := range keys {
			keyIDs[i] = k.ID
		}
		m, err := secrets.MigrateNames(a.Keys, ids, keyIDs, guard.KeyID)
		if err != nil {
			return fmt.Errorf("move the keychain entries to their new names: %w", err)
		}
		if log != nil {
			log.Info("keychain entries moved to their new names", "moved", m.Moved)
			for _, l := range m.Lost {
				log.Warn("a secret was lost before this version", "what", l)
			}
		}
	}
	return a.Store.PutSetting(settingKeychainLayout, keychainLayoutOwners)
}
