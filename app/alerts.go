package app

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"keypool/app/store"
	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/runway"
)

// Alert is something the user is told once, as it happens: a desktop
// notification in the window's app, a log line without one.
type Alert struct {
	Title, Text string
}

// Alerts decides, from one reading of the relay's health after another,
// what to tell the user once per episode: the first paid answer after a
// protocol's plans ran out, the day's cap on paid answers reached, and a
// pool runway that drops under the warning threshold. It keeps what it
// has said; time comes from its caller, so every decision can be replayed.
type Alerts struct {
	mu sync.Mutex
	// paying is each protocol's running paid episode already told (its
	// start); runway the protocols warned of while under the threshold.
	paying   map[pool.Protocol]time.Time
	capTold  bool
	runway   map[pool.Protocol]bool
	hasFirst bool
	// logins holds the login-end warnings given: account, end and stage.
	logins map[loginWarning]bool
}

type loginWarning struct {
	account string
	ends    time.Time
	days    int
}

// loginWarnDays are how many days before a login ends the user is warned,
// nearest first.
var loginWarnDays = []int{1, 3}

// CheckLogins returns, once each, the warnings that an account's login
// ends within 3 days, then within 1 day, as its provider said.
func (al *Alerts) CheckLogins(accts []store.Account, now time.Time) []Alert {
	al.mu.Lock()
	defer al.mu.Unlock()
	if al.logins == nil {
		al.logins = map[loginWarning]bool{}
	}
	var out []Alert
	for _, a := range accts {
		if a.LoginExpiry.IsZero() || !a.LoginExpiry.After(now) || !a.Enabled {
			continue
		}
		left := a.LoginExpiry.Sub(now)
		for _, d := range loginWarnDays {
			w := loginWarning{a.ID, a.LoginExpiry, d}
			if left > time.Duration(d)*24*time.Hour || al.logins[w] {
				continue
			}
			// The nearer stage counts for the farther one too, so a login
			// first seen a day before its end warns once.
			for _, e := range loginWarnDays {
				if e >= d {
					al.logins[loginWarning{a.ID, a.LoginExpiry, e}] = true
				}
			}
			out = append(out, Alert{Title: "Keypool: a login ends soon",
				Text: fmt.Sprintf("%s: %s (%s). Log in again before then: keypool login %s --id %s, or Log in with browser in the window.",
					a.Name, LoginEndsText(a, now), a.LoginExpiry.Local().Format("Mon 2 Jan 15:04"), loginCommand(a.Type), a.ID)})
			break
		}
	}
	return out
}

// LoginEndsText says when an account's login ends, for people: "login
// ends in 12 days", "login ends in 20 h"; "" when not known.
func LoginEndsText(a store.Account, now time.Time) string {
	if a.LoginExpiry.IsZero() {
		return ""
	}
	left := a.LoginExpiry.Sub(now)
	switch {
	case left <= 0:
		return "login ended"
	case left < 48*time.Hour:
		return fmt.Sprintf("login ends in %d h", int(left.Hours()+0.5))
	}
	return fmt.Sprintf("login ends in %d days", int(left.Hours()/24))
}

// runwayRearm is how far above the threshold a pool's runway must climb
// (or lasting, or gone) before another drop under it warns again, so a
// forecast that wavers around the mark warns once.
const runwayRearm = 2

// Check reads h at now and returns what to say; runwayMinutes is the
// warning threshold (0: no runway warnings). The first reading sets what
// is already under way without telling it, except a paid episode or a
// reached cap, which cost money and are said at once.
func (al *Alerts) Check(h relay.Health, now time.Time, runwayMinutes int) []Alert {
	al.mu.Lock()
	defer al.mu.Unlock()
	if al.paying == nil {
		al.paying, al.runway = map[pool.Protocol]time.Time{}, map[pool.Protocol]bool{}
	}
	var out []Alert
	running := map[pool.Protocol]bool{}
	for _, ep := range h.Paying {
		running[ep.Protocol] = true
		if since, ok := al.paying[ep.Protocol]; ok && since.Equal(ep.Since) {
			continue
		}
		al.paying[ep.Protocol] = ep.Since
		out = append(out, Alert{Title: "Keypool: now paying per token", Text: ep.Text(time.Local)})
	}
	for p := range al.paying {
		if !running[p] {
			delete(al.paying, p)
		}
	}
	reached := h.PaidCap != nil && h.PaidCap.Reached
	if reached && !al.capTold {
		out = append(out, Alert{Title: "Keypool: daily cap on paid answers reached",
			Text: fmt.Sprintf("$%.2f paid today, the cap is $%.2f ([spend] paid_daily_usd). Only plans serve until midnight.", h.PaidCap.SpentUSD, h.PaidCap.DailyUSD)})
	}
	al.capTold = reached
	first := !al.hasFirst
	al.hasFirst = true
	threshold := time.Duration(runwayMinutes) * time.Minute
	for _, r := range h.Runway {
		left := r.RunsOut.Sub(now)
		under := runwayMinutes > 0 && r.State == runway.RunsOut && left < threshold
		switch {
		case under && !al.runway[r.Protocol]:
			al.runway[r.Protocol] = true
			if first {
				continue
			}
			text := fmt.Sprintf("%s runway ≈%s at this pace", ClientName(r.Protocol), runway.Duration(max(left, time.Minute)))
			if !r.NextReset.IsZero() {
				text += "; first reset " + runway.Clock(r.NextReset, now, time.Local)
			}
			out = append(out, Alert{Title: "Keypool: runway running short", Text: text})
		case !under && (r.State != runway.RunsOut || left >= runwayRearm*threshold):
			delete(al.runway, r.Protocol)
		}
	}
	return out
}

// PayingText says, for each protocol whose plans are spent while a paid
// account serves it, who pays and what it has cost: "Claude plans are
// spent until 15:05 — now paying with api-work; $0.42 since 14:05".
func PayingText(h relay.Health) string {
	var parts []string
	for _, ep := range h.Paying {
		parts = append(parts, ep.Text(time.Local))
	}
	return strings.Join(parts, " · ")
}

// alertLog says in the log, once each, what the window would notify, for a
// relay without one (keypool serve, the desktop app without a display).
type alertLog struct{ a *App }

// alertEvery is how often alertLog looks.
const alertEvery = time.Minute

func (l alertLog) Run(ctx context.Context) error {
	var al Alerts
	t := time.NewTicker(alertEvery)
	defer t.Stop()
	for {
		now := l.a.now()
		said := al.Check(l.a.relay.Health(), now, l.a.RunwayWarnMinutes())
		if l.a.accounts != nil {
			if list, err := l.a.store.Accounts(); err == nil {
				said = append(said, al.CheckLogins(list, now)...)
			}
		}
		for _, s := range said {
			l.a.log.Warn(s.Title+": "+s.Text, "alert", true)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// settingPaidDaily is the store setting that overrides the config's
// [spend] paid_daily_usd, set from the window.
const settingPaidDaily = "paid_daily_usd"

// PaidDailyCap is the pool-wide daily cap on paid answers, in USD (0: none):
// the window's setting, else the config's.
func (a *App) PaidDailyCap() float64 {
	if usd, ok := savedSetting[float64](a.store, settingPaidDaily); ok {
		return usd
	}
	return a.cfg.Spend.PaidDailyUSD
}

// savedSetting reads a setting the window saved, as a T; false when there
// is none (or it does not read as one), so the config's value holds.
func savedSetting[T int | float64](st *store.Store, key string) (T, bool) {
	var v T
	s, _ := st.Setting(key)
	if s == "" {
		return v, false
	}
	_, err := fmt.Sscan(s, &v)
	return v, err == nil
}

// SetPaidDailyCap saves and applies at once the daily cap on paid answers
// (0: none).
func (a *App) SetPaidDailyCap(usd float64) error {
	if usd < 0 {
		return fmt.Errorf("daily cap on paid answers: $%g: use 0 (no cap) or more", usd)
	}
	if err := a.store.PutSetting(settingPaidDaily, fmt.Sprint(usd)); err != nil {
		return fmt.Errorf("save the daily cap on paid answers: %w", err)
	}
	a.relay.SetPaidDailyCap(usd)
	return nil
}

// settingRunwayMinutes is the store setting that overrides the config's
// [notify] runway_minutes, set from the window.
const settingRunwayMinutes = "runway_minutes"

// RunwayWarnMinutes is how short a pool's runway forecast gets before the
// user is warned, in minutes (0: never): the window's setting, else the
// config's (30 by default).
func (a *App) RunwayWarnMinutes() int {
	if n, ok := savedSetting[int](a.store, settingRunwayMinutes); ok {
		return n
	}
	return a.cfg.Notify.RunwayMinutes
}

// SetRunwayWarnMinutes saves the runway warning's threshold (0: off).
func (a *App) SetRunwayWarnMinutes(minutes int) error {
	return a.saveMinutes(settingRunwayMinutes, "runway warning", minutes)
}
