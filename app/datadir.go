package app

import (
	"errors"

	"keypool/app/secrets"
	"keypool/app/store"
)

// OpenAccounts opens the accounts of p's data dir for a command: the store
// itself, or, when a relay holds it (bbolt lets one process open the file),
// that relay's control socket. The func gives back what it opened.
func OpenAccounts(p Params) (AccountChanger, func(), error) {
	local, remote, done, err := openDataDir(p)
	if err != nil {
		return nil, nil, err
	}
	if remote != nil {
		return remote, done, nil
	}
	return local, done, nil
}

// ErrNotRunning is returned for what only a running relay holds, such as
// its accounts' cooldowns, when no relay runs on the data dir.
//
//lint:ignore ST1005 Keypool is a name; the sentence is said to people whole.
var ErrNotRunning = errors.New("Keypool is not running")

// ResetCooldowns clears the running relay's cooldowns of account id, so it
// serves again at once, as Reset in the window does: for an account left
// resting after its quota came back. Cooldowns live in the running relay
// only; with none running there is nothing to clear (ErrNotRunning, once
// the account is known to exist).
func ResetCooldowns(p Params, id string) error {
	local, remote, done, err := openDataDir(p)
	if err != nil {
		return err
	}
	defer done()
	if remote != nil {
		return remote.Reset(id)
	}
	if _, err := local.Account(id); err != nil {
		return err
	}
	return ErrNotRunning
}

// OpenClientKeys opens the client keys of p's data dir, the same way.
func OpenClientKeys(p Params) (ClientKeyChanger, func(), error) {
	local, remote, done, err := openDataDir(p)
	if err != nil {
		return nil, nil, err
	}
	if remote != nil {
		return remote, done, nil
	}
	return ClientKeyStore{Store: local.Store, Keys: local.Keys}, done, nil
}

// openDataDir opens the store of p's data dir with p's keychain (the OS
// keychain when nil), its entries moved to today's names first; or, when a
// relay holds the store, that relay's control socket.
func openDataDir(p Params) (*Accounts, *RemoteAccounts, func(), error) {
	setup, err := Resolve(p)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := setup.openStore()
	if errors.Is(err, store.ErrLocked) {
		remote, err := DialAccounts(setup.Files.DB)
		if err != nil {
			return nil, nil, nil, err
		}
		return nil, remote, func() {}, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	keys := p.Keychain
	if keys == nil {
		keys = secrets.OS{}
	}
	accts := &Accounts{Store: st, Keys: keys}
	if err := accts.MigrateKeychain(nil); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return accts, nil, func() { st.Close() }, nil
}
