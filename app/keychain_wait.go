package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"keypool/app/secrets"
	"keypool/relay"
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

// keychainGrace is how long stopping waits for a keychain check in flight.
const keychainGrace = 2 * time.Second

// keychainWait keeps the relay blocked while the keychain cannot be read,
// and unblocks it once the keychain answers and resume succeeds.
type keychainWait struct {
	keys    secrets.Keychain
	relay   *relay.Server
	log     *slog.Logger
	changed func()
	// resume loads what the keychain holds once it answers; nil: serve.
	resume func() error

	mu  sync.Mutex
	err error // why the keychain cannot be read; nil once it could
}

// Err returns why the keychain could not be read, or nil once it could.
func (w *keychainWait) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// block notes that the keychain could not be read and blocks the relay
// until Run sees it answer.
func (w *keychainWait) block(err error) {
	w.mu.Lock()
	w.err = err
	w.mu.Unlock()
	w.relay.SetBlocked(keychainBlocked(err))
	w.changed()
	w.log.Warn("the keychain cannot be read; API requests are refused until it is unlocked", "err", err)
}

// unblock notes that the keychain answers and serves again.
func (w *keychainWait) unblock() {
	w.mu.Lock()
	w.err = nil
	w.mu.Unlock()
	w.relay.SetBlocked("")
	w.changed()
	w.log.Info("keychain readable again; serving requests")
}

// Run watches the keychain while it cannot be read (see watch), until it
// answers or ctx is done. go-keyring waits without limit for an unlock
// prompt to be answered, and quitting must not: once ctx is done, a check
// in flight gets keychainGrace, and then Run returns without it (the
// process ends anyway).
func (w *keychainWait) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.watch(ctx)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	select {
	case <-done:
	case <-time.After(keychainGrace):
		w.log.Warn("not waiting for the keychain check (an unanswered unlock prompt?)")
	}
	return nil
}

// watch looks at the keychain every keychainPeek where that asks nothing
// of the user, else (or once looking fails) tries every keychainRetry, and
// unblocks the relay once the keychain answers.
func (w *keychainWait) watch(ctx context.Context) {
	if w.Err() == nil {
		return
	}
	peek, canPeek := w.keys.(interface{ Locked() (bool, error) })
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
				w.log.Warn("cannot see whether the keychain is locked; trying it now and then instead", "err", err)
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
		err := w.resume()
		switch {
		case err == nil:
			w.unblock()
			return
		case keychainUnavailable(err):
			w.relay.SetBlocked(keychainBlocked(err))
			w.log.Debug("keychain still unavailable", "err", err)
		default:
			// Readable, but something else is wrong (a client key's entry
			// is gone, say): say so instead of promising a resume.
			if err.Error() != said {
				said = err.Error()
				w.log.Error("the keychain answers but Keypool still cannot serve", "err", err)
			}
			w.relay.SetBlocked("Keypool cannot serve: " + err.Error())
			w.changed()
			canPeek = false
		}
	}
}

// keychainErr returns why the keychain could not be read, or nil once it
// could.
func (a *App) keychainErr() error {
	if a.keychain == nil {
		return a.kcErr // still in Open
	}
	return a.keychain.Err()
}

// resumeKeychain checks the keychain and loads the client keys and the
// accounts' secrets from it, for the keychain wait.
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
		if err := a.clientKeys.load(); err != nil {
			return err
		}
	}
	a.ReloadAccounts() // their secrets can be looked at now
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
