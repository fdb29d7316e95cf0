package ui

import (
	"fmt"
	"keypool/app"
	"strings"

	"fyne.io/fyne/v2"

	"keypool/assets"
)

// trayActions are what the tray menu's items do.
type trayActions struct {
	open     func()
	firstRun func() // the window on its Accounts tab
	copyEnv  func(client string)
	pause    func(paused bool)
	enable   func(id string, on bool)
	openURL  func(url string) // in the browser
	quit     func()
}

func (u *UI) trayActions() trayActions {
	return trayActions{
		open: u.Show,
		firstRun: func() {
			u.tabs.SelectIndex(0)
			u.Show()
		},
		copyEnv: func(c string) { u.withLoop(func() { u.copyEnv(c) }) }, // the clipboard is Fyne's
		pause:   func(p bool) { u.core.SetPaused(p); u.refreshLater() },
		enable: func(id string, on bool) {
			u.do(func() error { return u.changeAccounts(func(a *app.Accounts) error { return a.SetEnabled(id, on) }) })
		},
		openURL: u.openURL,
		quit:    u.quit,
	}
}

// trayMenu builds the tray menu from app state: a plain function, so tests
// can read it without a tray.
func trayMenu(s snapshot, act trayActions) *fyne.Menu {
	items := []*fyne.MenuItem{
		fyne.NewMenuItem("Open Keypool", act.open),
	}
	if len(s.accounts) == 0 && len(s.health.Accounts) == 0 { // a config file's accounts are only in health
		// The window's Accounts tab leads from there (firstRun).
		items = append(items, fyne.NewMenuItem("Add your first account…", act.firstRun))
	}
	if s.health.Blocked != "" {
		items = append(items, fyne.NewMenuItem("⚠ Waiting for the keychain to be unlocked", act.open))
	}
	if h := s.health.Store; h != nil && h.Error != "" {
		items = append(items, fyne.NewMenuItem("⚠ Usage not saved: "+h.Error, act.open))
	}
	if p := app.PayingText(s.health); p != "" {
		items = append(items, fyne.NewMenuItem("⚠ "+p, act.open))
	}
	if c := s.health.PaidCap; c != nil && c.Reached {
		items = append(items, fyne.NewMenuItem(fmt.Sprintf("⚠ Daily cap on paid answers reached ($%.2f)", c.DailyUSD), act.open))
	}
	if up := s.health.Update; up != nil {
		items = append(items, fyne.NewMenuItem("Keypool "+up.Version+" is available: release notes…", func() { act.openURL(up.Notes) }))
	}
	items = append(items, fyne.NewMenuItemSeparator())
	for _, c := range []string{"Claude Code", "Codex", "Gemini CLI"} {
		c := c
		items = append(items, fyne.NewMenuItem("Copy env for "+c, func() { act.copyEnv(c) }))
	}
	items = append(items, fyne.NewMenuItemSeparator())
	if s.paused {
		items = append(items, fyne.NewMenuItem("Resume relay", func() { act.pause(false) }))
	} else {
		items = append(items, fyne.NewMenuItem("Pause relay", func() { act.pause(true) }))
	}
	if len(s.accounts) > 0 {
		items = append(items, fyne.NewMenuItemSeparator())
	}
	for _, a := range s.accounts {
		id, on := a.ID, a.Enabled
		it := fyne.NewMenuItem(a.Name+" — "+s.trayStateText(a), func() { act.enable(id, !on) })
		it.Checked = on
		it.Disabled = s.fromConfig // changes only in the config file
		items = append(items, it)
	}
	items = append(items, fyne.NewMenuItemSeparator(), fyne.NewMenuItem("Quit", act.quit))
	m := fyne.NewMenu("Keypool", items...)
	return m
}

// trayStateText is an account's state for the tray menu: words that change
// only when the state does ("cooling, back at 14:05", never a countdown),
// with its most used plan window.
func (s snapshot) trayStateText(a app.Account) string {
	st, until := s.state(a.ID)
	text := st.Text()
	switch {
	case st.Rests():
		text += ", back at " + until.Local().Format("15:04")
	case st == app.StateOverage:
		text = s.overageText(a.ID)
	}
	if q := s.tightestQuotaOf(a.ID); q != nil {
		text += fmt.Sprintf(" · %s %.0f%%", q.Window, q.Utilization*100)
	}
	return text
}

// tightestQuotaOf is an account's most used plan window, or nil.
func (s snapshot) tightestQuotaOf(id string) *app.Quota {
	for _, a := range s.health.Accounts {
		if a.ID != id {
			continue
		}
		var top *app.Quota
		for i := range a.Quota {
			if top == nil || a.Quota[i].Utilization > top.Utilization {
				top = &a.Quota[i]
			}
		}
		return top
	}
	return nil
}

// trayState is the tray icon's mood: all good, some accounts out, none
// available, or paused.
func trayState(s snapshot) string {
	switch {
	case s.paused:
		return "paused"
	case s.health.Status == "ok":
		return "ok"
	case s.health.Status == "degraded":
		return "degraded"
	}
	return "down"
}

var trayIcons = map[string]fyne.Resource{
	"ok":       fyne.NewStaticResource("tray_ok.png", assets.TrayOK),
	"degraded": fyne.NewStaticResource("tray_warn.png", assets.TrayWarn),
	"down":     fyne.NewStaticResource("tray_down.png", assets.TrayDown),
	"paused":   fyne.NewStaticResource("tray_paused.png", assets.TrayPaused),
}

// trayer is the system tray: Fyne's, with the tooltip Fyne does not set.
type trayer interface {
	SetSystemTrayMenu(*fyne.Menu)
	SetSystemTrayIcon(fyne.Resource)
	SetTooltip(string)
	// needsLoop reports whether the tray needs Fyne's event loop to run.
	needsLoop() bool
}

// trayStarter is a tray that is started when the UI runs: start shows it
// and returns what takes it away (nil: nothing to take away).
type trayStarter interface{ start() (stop func()) }

// traySet is what the tray shows: the menu's texts and checks, the icon's
// mood, and the tooltip.
type traySet struct{ menu, icon, tooltip string }

// menuKey is everything a menu shows, to tell whether it changed.
func menuKey(m *fyne.Menu) string {
	var b strings.Builder
	for _, it := range m.Items {
		switch {
		case it.IsSeparator:
			b.WriteString("---\n")
		default:
			fmt.Fprintf(&b, "%s|%v|%v\n", it.Label, it.Checked, it.Disabled)
		}
	}
	return b.String()
}

// traySummary is the tray's one-line tooltip: how many accounts are ready,
// the most used plan window, and when the next one is back ("Keypool: 6/8
// ready · work 5h 42% · next back 14:05").
func traySummary(s snapshot) string { return "Keypool: " + s.summary(false) }

// summary is the pool in one line; with firstChoice, it names the account
// new conversations go to first.
func (s snapshot) summary(firstChoice bool) string {
	switch {
	case s.paused:
		return "paused"
	case s.health.Blocked != "":
		return "waiting for the keychain"
	case len(s.health.Accounts) == 0:
		return "no accounts yet"
	}
	ready, served := 0, 0
	for _, a := range s.health.Accounts {
		if a.State == app.StateDisabled || a.State == app.StateUnsupported {
			continue
		}
		served++
		if a.State == app.StateReady {
			ready++
		}
	}
	parts := []string{fmt.Sprintf("%d/%d ready", ready, served)}
	if p := app.PayingText(s.health); p != "" {
		parts = append(parts, p)
	}
	if firstChoice {
		var first []string
		for _, p := range []app.Protocol{app.ProtocolAnthropic, app.ProtocolResponses, app.ProtocolGemini} {
			if a := s.firstChoice(p); a != "" {
				first = append(first, app.ClientName(p)+" → "+a)
			}
		}
		if len(first) > 0 {
			parts = append(parts, "new conversations: "+strings.Join(first, ", "))
		}
	}
	if q := tightestQuota(s); q != "" {
		parts = append(parts, q)
	}
	if first := s.firstReturn(); !first.IsZero() && ready < served {
		parts = append(parts, "next back "+first.Local().Format("15:04"))
	}
	if r := app.RunwayClock(s.health.Runway, s.now); r != "" {
		parts = append(parts, r)
	}
	return strings.Join(parts, " · ")
}

// firstChoice is the name of the account the relay sends a new
// conversation of protocol p to now (by priority, runway and
// avoid_runout), or "".
func (s snapshot) firstChoice(p app.Protocol) string {
	id := s.health.Next[p]
	for _, a := range s.health.Accounts {
		if a.ID == id {
			return a.Name
		}
	}
	return ""
}

// tightestQuota is the most used plan window of any ready account
// ("work 5h 42%"), or "".
func tightestQuota(s snapshot) string {
	var best string
	top := -1.0
	for _, a := range s.health.Accounts {
		for _, q := range a.Quota {
			if q.Utilization > top {
				top, best = q.Utilization, fmt.Sprintf("%s %s %.0f%%", a.Name, q.Window, q.Utilization*100)
			}
		}
	}
	return best
}
