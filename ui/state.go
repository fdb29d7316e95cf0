package ui

import (
	"time"

	"keypool/app"
)

// snapshot is what the views show, read at once from the app.
type snapshot struct {
	now        time.Time
	url        string
	paused     bool
	health     app.Health
	accounts   []app.Account // the app's own accounts (metadata)
	today      []app.DayTotal
	week       []app.DayTotal    // the last 7 days, today included
	month      []app.DayTotal    // the last 30 days, today included
	recent     []app.UsageRecord // the latest, newest first
	clientKeys []app.ClientKeyInfo
	// fromConfig: the accounts come from a config file and change only
	// there.
	fromConfig bool
	hourly     []app.Hour // requests and cost per hour, the last 24 hours, ending with the current one
}

// The window's tabs, by index, and what each needs read beyond what the
// tray needs.
const (
	tabAccounts = iota
	tabUsage
	tabActivity
	tabSettings
	allTabs  = -1 // every view
	trayOnly = -2 // no view: the window is hidden
)

// snapshotFor reads what the tray and the notifications need (the relay's
// health, in memory, and the account list), and what tab needs.
func (u *UI) snapshotFor(tab int) snapshot {
	now := u.now()
	s := snapshot{now: now, url: u.core.URL(), paused: u.core.Paused(), health: u.core.Health(), fromConfig: u.core.ConfigPath() != ""}
	core := u.core
	if list, err := core.StoredAccounts(); err == nil {
		s.accounts = list
	}
	needs := func(t int) bool { return tab == allTabs || tab == t }
	if tab == trayOnly {
		return s
	}
	if needs(tabAccounts) || needs(tabUsage) {
		s.today, _ = core.Day(now)
	}
	if needs(tabSettings) || needs(tabAccounts) { // the rows name their profiles
		s.clientKeys, _ = u.core.ClientKeys()
	}
	if needs(tabUsage) {
		s.month = append(s.month, s.today...)
		for d := 1; d < 30; d++ {
			day, _ := core.Day(now.AddDate(0, 0, -d))
			if d < 7 {
				s.week = append(s.week, day...)
			}
			s.month = append(s.month, day...)
		}
		s.week = append(append([]app.DayTotal(nil), s.today...), s.week...)
		// Counted from keys and read newest first: cheap however busy the
		// day.
		s.hourly, _ = core.Hourly(now.Truncate(time.Hour).Add(-23*time.Hour), 24)
	}
	if needs(tabActivity) {
		s.recent, _ = core.Latest(100)
	}
	return s
}

// state returns an account's state as the relay decided it, and its
// earliest cooldown end if it rests.
func (s snapshot) state(id string) (app.AccountState, time.Time) {
	for _, a := range s.health.Accounts {
		if a.ID != id {
			continue
		}
		var until time.Time
		for _, c := range a.Cooldowns {
			if until.IsZero() || c.Until.Before(until) {
				until = c.Until
			}
		}
		return a.State, until
	}
	return app.StateStopped, time.Time{}
}

// todayOf sums an account's traffic today.
func (s snapshot) todayOf(id string) (requests int64, tokens int64) {
	for _, d := range s.today {
		if d.Account == id {
			requests += d.Requests
			tokens += d.Usage.InputTokens + d.Usage.OutputTokens + d.Usage.CacheWriteTokens + d.Usage.CacheReadTokens
		}
	}
	return requests, tokens
}

// stateText is an account's state in words, with a countdown when it
// rests.
func (s snapshot) stateText(a app.Account) string {
	st, until := s.state(a.ID)
	text := st.Text()
	switch {
	case st.Rests():
		left := until.Sub(s.now).Round(time.Second)
		text += " until " + until.Local().Format("15:04") + " (" + left.String() + ")"
	case st == app.StateNeedsKey:
		text = "needs a key: Edit to enter it"
	case st == app.StateOverage:
		text = s.overageText(a.ID)
	}
	if st == app.StateDisabled || st == app.StateNeedsLogin {
		return text
	}
	if ends := app.LoginEndsText(a, s.now); ends != "" {
		text += " · " + ends
	}
	return text
}

// overageText says that an account's plan is spent and it answers on paid
// extra usage, until when, and whether Keypool uses it.
func (s snapshot) overageText(id string) string {
	for _, a := range s.health.Accounts {
		if a.ID == id {
			return app.OverageText(a, s.now)
		}
	}
	return ""
}

// firstReturn is when the first cooling account comes back.
func (s snapshot) firstReturn() time.Time {
	var first time.Time
	for _, a := range s.health.Accounts {
		for _, c := range a.Cooldowns {
			if first.IsZero() || c.Until.Before(first) {
				first = c.Until
			}
		}
	}
	return first
}

// quotaText is an account's plan windows in words ("5h 42% until 14:00").
func (s snapshot) quotaText(id string) string {
	for _, a := range s.health.Accounts {
		if a.ID != id {
			continue
		}
		return app.QuotaText(a.Quota, ", ")
	}
	return ""
}
