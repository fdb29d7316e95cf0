package app

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"keypool/app/update"
	"keypool/app/version"
	"keypool/relay"
)

// The update check's settings in the store.
const (
	settingUpdatesCheck = "updates_check"      // "on" or "off"; "" until the user is asked
	settingUpdatesLast  = "updates_checked_at" // when the feed was last read (RFC 3339)
	settingUpdateFound  = "update_available"   // the newer release found, as JSON
)

// updateEvery is how often the feed is read, at most.
const updateEvery = 24 * time.Hour

// Release is a newer Keypool than this one.
type Release struct {
	Version string `json:"version"`
	Notes   string `json:"notes"` // the release notes' address
	Date    string `json:"date,omitempty"`
	// Expires is when its manifest stopped being believed: a release
	// withdrawn from the feed is not shown for ever.
	Expires string `json:"expires,omitempty"`
}

// ErrUpToDate: keypool update found no newer release.
var ErrUpToDate = update.ErrUpToDate

// ErrUpdatesInConfig is returned for a change to the update check that the
// config file decides.
var ErrUpdatesInConfig = errors.New("the config file's [updates] check decides")

// UpdateCheck reports whether Keypool looks for a newer version once a day,
// and whether the user was asked (the config file's [updates] check counts
// as an answer).
func (a *App) UpdateCheck() (on, asked bool) {
	if c := a.cfg.Updates.Check; c != nil {
		return *c, true
	}
	s, _ := a.store.Setting(settingUpdatesCheck)
	return s == "on", s != ""
}

// SetUpdateCheck turns the daily update check on or off (the window's
// Settings, and its first-run question).
func (a *App) SetUpdateCheck(on bool) error {
	if a.cfg.Updates.Check != nil {
		return fmt.Errorf("%w (%s): change it there", ErrUpdatesInConfig, a.configPath)
	}
	v := "off"
	if on {
		v = "on"
	}
	if err := a.store.PutSetting(settingUpdatesCheck, v); err != nil {
		return err
	}
	if !on {
		a.store.PutSetting(settingUpdateFound, "") // what it found is no longer followed
	}
	a.updates.wake()
	a.changed()
	return nil
}

// UpdateAvailable is the newer Keypool the last check found, if any.
func (a *App) UpdateAvailable() (Release, bool) { return storedRelease(a.store.Setting) }

// storedRelease reads the release a check saved, through setting (the
// running app's store, or keypool status's read of the file).
func storedRelease(setting func(string) (string, error)) (Release, bool) {
	s, _ := setting(settingUpdateFound)
	var r Release
	if s == "" || json.Unmarshal([]byte(s), &r) != nil || version.Compare(r.Version, version.Get().Version) <= 0 {
		return Release{}, false // none, or this build is it (or newer) by now
	}
	if exp, err := time.Parse(time.RFC3339, r.Expires); err == nil && time.Now().After(exp) {
		return Release{}, false // its manifest expired: the feed no longer vouches for it
	}
	return r, true
}

// newerVersion is what /health says of a newer release (nil: none known,
// or the check is off).
func (a *App) newerVersion() *relay.NewerVersion {
	if on, _ := a.UpdateCheck(); !on {
		return nil
	}
	if r, ok := a.UpdateAvailable(); ok {
		return &relay.NewerVersion{Version: r.Version, Notes: r.Notes}
	}
	return nil
}

// UpdateFeed is the release manifest's address: the config's [updates]
// url, else the project's feed.
func (a *App) UpdateFeed() string {
	if u := a.cfg.Updates.URL; u != "" {
		return u
	}
	return update.DefaultFeed
}

// updateCheck reads the release feed at most once a day while the user lets
// it, and never otherwise: with the check off, no request leaves.
type updateCheck struct {
	a       *App
	key     ed25519.PublicKey // nil: the compiled-in release key
	wakeUp  chan struct{}     // the setting changed
	current string
	last    time.Time // the last check, even when saving it failed
}

func newUpdateCheck(a *App, key ed25519.PublicKey) *updateCheck {
	return &updateCheck{a: a, key: key, wakeUp: make(chan struct{}, 1), current: version.Get().Version}
}

func (u *updateCheck) wake() {
	select {
	case u.wakeUp <- struct{}{}:
	default:
	}
}

// Run checks when a day has passed since the last check (at once on the
// first), while the check is on, until ctx is done.
func (u *updateCheck) Run(ctx context.Context) error {
	for {
		var due <-chan time.Time // never, while the check is off
		var timer *time.Timer
		if on, _ := u.a.UpdateCheck(); on {
			timer = time.NewTimer(u.wait())
			due = timer.C
		}
		fire := false
		select {
		case <-ctx.Done():
		case <-u.wakeUp:
		case <-due:
			fire = true
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
		if fire {
			u.check(ctx)
		}
	}
}

// wait is the time until the next check: a day after the last one, and
// never more than a day (a saved time in the future is not believed).
func (u *updateCheck) wait() time.Duration {
	last := u.last
	if s, _ := u.a.store.Setting(settingUpdatesLast); s != "" {
		if at, err := time.Parse(time.RFC3339, s); err == nil && at.After(last) {
			last = at
		}
	}
	return min(updateEvery, max(0, last.Add(updateEvery).Sub(u.a.now())))
}

// check reads the feed once and keeps what it says. A manifest that is
// unsigned, badly signed, expired, malformed or not newer changes nothing
// but one line in the log; so does a release older than one already
// found (an old manifest served again cannot hide a newer release).
func (u *updateCheck) check(ctx context.Context) {
	a := u.a
	if on, _ := a.UpdateCheck(); !on {
		return // turned off as the timer fired
	}
	u.last = a.now()
	a.store.PutSetting(settingUpdatesLast, u.last.UTC().Format(time.RFC3339))
	c := update.Checker{Feed: a.UpdateFeed(), Key: u.key, Current: u.current, Now: a.now}
	m, newer, err := c.Latest(ctx)
	if on, _ := a.UpdateCheck(); !on || ctx.Err() != nil {
		return // turned off while the feed answered: nothing is kept
	}
	found, known := a.UpdateAvailable()
	switch {
	case err != nil:
		a.log.Warn("update check: nothing believed from the release feed", "feed", update.Redact(c.Feed), "err", err)
		return
	case !newer:
		a.log.Info("update check: the feed's release is not newer than this one", "version", u.current, "feed_version", m.Version)
		return
	case known && version.Compare(m.Version, found.Version) < 0:
		a.log.Warn("update check: the feed's release is older than one found before; kept the newer", "found", found.Version, "feed_version", m.Version)
		return
	}
	b, _ := json.Marshal(Release{Version: m.Version, Notes: m.Notes, Date: m.Date, Expires: m.Expires})
	a.store.PutSetting(settingUpdateFound, string(b))
	a.log.Info("update check: a newer Keypool is out", "version", m.Version, "notes", m.Notes)
	a.changed()
}

// UpdateText says that a newer Keypool is out, for the tray, the window
// and keypool status ("" when none is known).
func UpdateText(r Release) string {
	return fmt.Sprintf("Keypool %s is available (this is %s): %s", r.Version, version.Get().Version, r.Notes)
}

// InstallUpdate updates the keypool executable at exe (the running one
// when ""), for keypool update: through the package manager that
// installed it (changing nothing here, and saying which command to run),
// else from the signed release feed.
func InstallUpdate(ctx context.Context, p Params, exe string, rollback bool, log *slog.Logger) (string, error) {
	log = cmp.Or(log, slog.Default())
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return "", err
		}
	}
	if m, ok := update.ManagedBy(exe, update.SystemOwner); ok {
		return "", fmt.Errorf("installed with %s: update Keypool there, with: %s (nothing was changed)", m.Name, m.Command)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real // one lock, whichever link names it
	}
	if update.InAppBundle(exe) {
		return "", fmt.Errorf("%w: download the new Keypool.app from the release page, or with Homebrew: brew upgrade --cask keypool (nothing was changed)", update.ErrAppBundle)
	}
	unlock, err := update.Lock(exe)
	if err != nil {
		return "", err
	}
	defer unlock()
	if rollback {
		if err := update.Rollback(exe); err != nil {
			return "", err
		}
		return fmt.Sprintf("%s is the previous version again (the one it replaced is kept, for another --rollback).", exe), nil
	}
	setup, err := Resolve(p)
	if err != nil {
		return "", err
	}
	feed := update.DefaultFeed
	if u := setup.Config.Updates.URL; u != "" {
		feed = u
	}
	c := update.Checker{Feed: feed, Key: p.ReleaseKey, Current: version.Get().Version}
	m, err := c.Install(ctx, exe)
	if err != nil {
		return "", err
	}
	log.Info("keypool updated", "from", c.Current, "to", m.Version, "exe", exe)
	return fmt.Sprintf("Keypool %s is installed at %s (release notes: %s); restart Keypool to use it. keypool update --rollback puts %s back.", m.Version, exe, m.Notes, c.Current), nil
}
