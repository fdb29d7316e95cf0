package secrets

import (
	"errors"
	"fmt"
	"strings"
)

// Keypool's first keychain layout named an account's entries "<id>/<field>"
// and a client key's "client-<id>/api_key". An account whose id began with
// "client-" (say "client-key-71db9c2b") then shared its API key's entry with
// a client key: adding one overwrote the other, removing one deleted both.
// MigrateNames moves such entries to today's names, where each owner's kind
// is part of the name.

// legacyAccount and legacyClientKey are the owners of the first layout.
func legacyAccount(id string) Owner   { return Owner{kindLegacy, id} }
func legacyClientKey(id string) Owner { return Owner{kindLegacy, "client-" + id} }

// Migration is what MigrateNames did.
type Migration struct {
	// Moved counts the entries that now live under today's names.
	Moved int
	// Lost says, per owner, which secret the first layout had overwritten
	// with another owner's: that owner must be given it again.
	Lost []string
}

// MigrateNames moves the entries of the first layout to today's names, for
// the store's accounts and client keys. An entry already present under its
// new name is kept as it is. keyID maps a client key's value to its id (the
// store names a client key by a hash of its value), which tells whose value
// an entry shared by an account and a client key holds. The old entries are
// deleted only once every move has succeeded, so a failure (a keychain that
// locks halfway) loses nothing and a later call finishes the work.
func MigrateNames(k Keychain, accounts, clientKeys []string, keyID func(value string) string) (Migration, error) {
	type entry struct {
		from Owner
		f    Field
	}
	var (
		m     Migration
		moved []entry // old entries found, deleted once every move succeeded
	)
	// move copies from's field f to to, unless to already has it.
	move := func(from, to Owner, f Field, belongs func(Secret) bool) error {
		v, err := k.Get(from, f)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		moved = append(moved, entry{from, f})
		if _, err := k.Get(to, f); err == nil {
			return nil // already there: the new name wins
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		if belongs != nil && !belongs(v) {
			m.Lost = append(m.Lost, fmt.Sprintf("%s: its %s was overwritten by another owner's in the old keychain layout; enter it again", to, f))
			return nil
		}
		if err := k.Set(to, f, v); err != nil {
			return err
		}
		m.Moved++
		return nil
	}

	accountIDs := make(map[string]bool, len(accounts))
	for _, id := range accounts {
		accountIDs[id] = true
	}
	keyIDs := make(map[string]bool, len(clientKeys))
	for _, id := range clientKeys {
		keyIDs[id] = true
		var belongs func(Secret) bool
		if accountIDs["client-"+id] {
			// Shared with an account: the client key's own value hashes to
			// its id; any other is the account's key.
			belongs = func(s Secret) bool { return keyID(s.Reveal()) == id }
		}
		if err := move(legacyClientKey(id), ClientKey(id), APIKey, belongs); err != nil {
			return m, fmt.Errorf("migrate %s: %w", ClientKey(id), err)
		}
	}
	for _, id := range accounts {
		for _, f := range AllFields {
			var belongs func(Secret) bool
			if ck, ok := strings.CutPrefix(id, "client-"); ok && keyIDs[ck] && f == APIKey {
				belongs = func(s Secret) bool { return keyID(s.Reveal()) != ck }
			}
			if err := move(legacyAccount(id), Account(id), f, belongs); err != nil {
				return m, fmt.Errorf("migrate %s: %w", Account(id), err)
			}
		}
	}
	for _, e := range moved {
		if err := k.Delete(e.from, e.f); err != nil {
			return m, fmt.Errorf("migrate: delete the old entry %s: %w", e.from.entry(e.f), err)
		}
	}
	return m, nil
}
