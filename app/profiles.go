package app

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/relay/pool"
)

// A profile is a named subset of the accounts ("work": the company's
// accounts) served through a client key of its own: a CLI configured with
// that key, in a project's directory, is served by those accounts only.
// It is kept as a client key that names its profile and accounts, so the
// key's value lives in the keychain like every other client key's.

// ErrNoProfile is returned for a profile name that is not there.
var ErrNoProfile = errors.New("no such profile")

// ProfileInfo is a profile as keypool profiles list and Settings show it.
type ProfileInfo struct {
	Name     string   `json:"name"`
	Accounts []string `json:"accounts"`
	// KeyID is its client key's id, as usage records name the client.
	KeyID string `json:"key_id"`
	// Broken says why its key cannot be used, as for any client key.
	Broken string `json:"broken,omitempty"`
}

// profileOf is k as a profile, if it is a profile's key.
func profileOf(k ClientKeyInfo) (ProfileInfo, bool) {
	return ProfileInfo{Name: k.Profile, Accounts: k.Accounts, KeyID: k.ID, Broken: k.Broken}, k.Profile != ""
}

// ProfilesOf picks the profiles out of a list of client keys.
func ProfilesOf(keys []ClientKeyInfo) []ProfileInfo {
	var out []ProfileInfo
	for _, k := range keys {
		if p, ok := profileOf(k); ok {
			out = append(out, p)
		}
	}
	return out
}

// poolKeys are the keys of list that serve the whole pool (not a
// profile's): the ones a CLI's own config gets, and the ones that close a
// relay to keyless clients.
func poolKeys(list []store.ClientKey) []store.ClientKey {
	return slices.DeleteFunc(slices.Clone(list), func(k store.ClientKey) bool { return k.Profile != "" })
}

// isProfileKey reports whether id is a profile's key in list.
func isProfileKey(list []store.ClientKey, id string) bool {
	return slices.ContainsFunc(list, func(k store.ClientKey) bool { return k.ID == id && k.Profile != "" })
}

// ListProfiles implements ClientKeyChanger.
func (c ClientKeyStore) ListProfiles() ([]ProfileInfo, error) {
	keys, err := c.ListClientKeys()
	return ProfilesOf(keys), err
}

// AddProfile implements ClientKeyChanger: it checks the name and the
// accounts, then makes the profile's key, whose value is returned once.
func (c ClientKeyStore) AddProfile(name string, accounts []string) (ProfileInfo, secrets.Secret, error) {
	if err := c.checkProfile(name, accounts); err != nil {
		return ProfileInfo{}, secrets.Secret{}, err
	}
	k, value, err := c.addKey(store.ClientKey{Label: "profile " + name, Profile: name, Accounts: accounts})
	if err != nil {
		return ProfileInfo{}, secrets.Secret{}, err
	}
	p, _ := profileOf(k)
	return p, value, nil
}

// checkProfile says what is wrong with a new profile: a name that is not an
// id or is taken, no account, an account twice or one that is not there.
func (c ClientKeyStore) checkProfile(name string, accounts []string) error {
	if !pool.ValidID(name) {
		return fmt.Errorf("profile %q: a name %s", name, pool.IDRule)
	}
	if len(accounts) == 0 {
		return fmt.Errorf("profile %s: name at least one account (--accounts a,b)", name)
	}
	keys, err := c.Store.ClientKeys()
	if err != nil {
		return err
	}
	if slices.ContainsFunc(keys, func(k store.ClientKey) bool { return k.Profile == name }) {
		return fmt.Errorf("profile %s exists: remove it first (keypool profiles remove %s), or pick another name", name, name)
	}
	known, err := c.Store.Accounts()
	if err != nil {
		return err
	}
	var ids []string
	for _, a := range known {
		ids = append(ids, a.ID)
	}
	for i, id := range accounts {
		switch {
		case slices.Contains(accounts[:i], id):
			return fmt.Errorf("profile %s: account %s is named twice", name, id)
		case !slices.Contains(ids, id):
			return fmt.Errorf("profile %s: there is no account %s (the accounts: %s)", name, id, strings.Join(ids, ", "))
		}
	}
	return nil
}

// RemoveProfile implements ClientKeyChanger: its key stops working; the
// accounts stay.
func (c ClientKeyStore) RemoveProfile(name string) error {
	keys, err := c.Store.ClientKeys()
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.Profile == name {
			return c.RemoveClientKey(k.ID)
		}
	}
	return fmt.Errorf("%w: %s (keypool profiles list shows them)", ErrNoProfile, name)
}

// AddProfile makes a profile in the running app and serves it at once.
func (a *App) AddProfile(name string, accounts []string) (ProfileInfo, secrets.Secret, error) {
	if a.clientKeys.keys == nil {
		return ProfileInfo{}, secrets.Secret{}, errNoStoreProfiles
	}
	p, value, err := a.clientKeys.storeOf().AddProfile(name, accounts)
	if err != nil {
		return ProfileInfo{}, secrets.Secret{}, err
	}
	return p, value, a.clientKeys.load()
}

// errNoStoreProfiles: a relay serving a config file has no client keys of
// its own, so no profiles.
var errNoStoreProfiles = errors.New("profiles need Keypool's own accounts and client keys, not --config")

// RemoveProfile removes a profile from the running app.
func (a *App) RemoveProfile(name string) error {
	if a.clientKeys.keys == nil {
		return errNoStoreProfiles
	}
	if err := a.clientKeys.storeOf().RemoveProfile(name); err != nil {
		return err
	}
	return a.clientKeys.load()
}

// Profiles lists the running app's profiles.
func (a *App) Profiles() ([]ProfileInfo, error) {
	keys, err := a.clientKeys.list()
	return ProfilesOf(keys), err
}

// The control socket's profile calls, for keypool profiles while a relay
// holds the data dir.

// ListProfiles implements ClientKeyChanger.
func (r *RemoteAccounts) ListProfiles() ([]ProfileInfo, error) {
	var out []ProfileInfo
	err := r.call("GET", "/v1/profiles", nil, &out)
	return out, err
}

// wireProfile is a new profile as it crosses the socket, its key's value
// once, as a plain string.
type wireProfile struct {
	Profile ProfileInfo `json:"profile"`
	Value   string      `json:"value"`
}

// AddProfile implements ClientKeyChanger.
func (r *RemoteAccounts) AddProfile(name string, accounts []string) (ProfileInfo, secrets.Secret, error) {
	var out wireProfile
	in := struct {
		Name     string
		Accounts []string
	}{name, accounts}
	if err := r.call("POST", "/v1/profiles", in, &out); err != nil {
		return ProfileInfo{}, secrets.Secret{}, err
	}
	return out.Profile, secrets.New(out.Value), nil
}

// RemoveProfile implements ClientKeyChanger.
func (r *RemoteAccounts) RemoveProfile(name string) error {
	return r.call("DELETE", "/v1/profiles/"+url.PathEscape(name), nil, nil)
}
