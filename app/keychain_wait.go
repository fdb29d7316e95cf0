package app

import (
	"context"
	"errors"
	"time"

	"keypool/app/secrets"
)

// Variables so that tests can shorten them.
var (
	// keychainPeek is how often a locked keychain is looked at, where that
	// can be done without asking the user (secrets.OS.Locked).
	keychainPeek = 2 * time.Second
	// keychainRetry is how often the keychain is tried where looking means
	// asking.
	keychainRetry = 30 * time.Second
)

// keychainBlocked is what API clients are told while the keychain cannot be
// read.
func keychainBlocked(err error) string {
	return "Keypool cannot read its keychain yet, so it cannot serve (" + err.Error() +
		"). It resumes by itself once the keychain is unlocked."
}

// keychainErr returns why the keychain could not be read, or nil once it
// could.
func (a *App) keychainErr() error {
	a.kcMu.Lock()
	defer a.kcMu.Unlock()
	return a.kcErr
}

// waitForKeychain notes that the keychain could not be read and blocks the
// relay until waitKeychain sees it answer.
func (a *App) waitForKeychain(err error) {
	a.kcMu.Lock()
	a.kcErr = err
	a.kcMu.Unlock()
	a.relay.SetBlocked(keychainBlocked(err))
	a.changed()
	a.log.Warn("the keychain cannot be read; API requests are refused until it is unlocked", "err", err)
}

// waitKeychain runs while the keychain could not be read at start: it looks
// every keychainPeek where that asks nothing of the user, else (or once
// looking fails) tries every keychainRetry, and unblocks the relay once the
// keychain answers.
func (a *App) waitKeychain(ctx context.Context) {
	if a.keychainErr() == nil {
		return
	}
	peek, canPeek := a.accounts.Keys.(interface{ Locked() (bool, error) })
	t := time.NewTicker(keychainPeek)
	defer t.Stop()
	var (
		tried      time.Time
		peekErrors int    // in a row; a few are forgiven (a bus still starting)
		said       string // the last "cannot serve" reason logged
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if canPeek {
			locked, err := peek.Locked()
			switch {
			case errors.Is(err, errors.ErrUnsupported):
				canPeek = false
			case err != nil:
				if peekErrors++; peekErrors < 3 {
					continue
				}
				a.log.Warn("cannot see whether the keychain is locked; trying it now and then instead", "err", err)
				canPeek = false
			case locked:
				peekErrors = 0
				continue
			}
		}
		if !canPeek && !tried.IsZero() && time.Since(tried) < keychainRetry {
			continue
		}
		tried = time.Now()
		err := a.resumeKeychain()
		switch {
		case err == nil:
			return
		case keychainUnavailable(err):
			a.relay.SetBlocked(keychainBlocked(err))
			a.log.Debug("keychain still unavailable", "err", err)
		default:
			// Readable, but something else is wrong (a client key's entry
			// is gone, say): say so instead of promising a resume.
			if err.Error() != said {
				said = err.Error()
				a.log.Error("the keychain answers but Keypool still cannot serve", "err", err)
			}
			a.relay.SetBlocked("Keypool cannot serve: " + err.Error())
			a.changed()
			canPeek = false
		}
	}
}

// resumeKeychain checks the keychain, loads the client keys from it and
// unblocks the relay.
func (a *App) resumeKeychain() error {
	if c, ok := a.accounts.Keys.(interface{ Check() error }); ok {
		if err := c.Check(); err != nil {
			return err
		}
	}
	if err := a.migrateKeychain(); keychainUnavailable(err) {
		return err
	}
	if len(a.cfg.APIKeys) == 0 {
		if err := a.loadClientKeys(); err != nil {
			return err
		}
	}
	a.ReloadAccounts() // their secrets can be looked at now
	a.kcMu.Lock()
	a.kcErr = nil
	a.kcMu.Unlock()
	a.relay.SetBlocked("")
	a.changed()
	a.log.Info("keychain readable again; serving requests")
	return nil
}

// migrateKeychain moves the keychain entries to today's names (see
// Accounts.MigrateKeychain). A keychain that cannot be read is waited for
// (the caller's error); any other failure is logged and left for the next
// start, since it must not keep Keypool from serving what it can.
func (a *App) migrateKeychain() error {
	err := a.accounts.MigrateKeychain(a.log)
	if err != nil && !keychainUnavailable(err) {
		a.log.Error("cannot move the keychain entries to their new names; accounts whose secrets are still under the old names show as needing a key until the next start", "err", err)
	}
	return err
}

// keychainUnavailable reports whether err means the keychain cannot be
// reached or is locked, as opposed to a missing entry.
func keychainUnavailable(err error) bool { return errors.Is(err, secrets.ErrUnavailable) }
