package ui

import (
	"fyne.io/fyne/v2"

	"keypool/assets"
)

// trayActions are what the tray menu's items do.
type trayActions struct {
	open    func()
	copyEnv func(client string)
	pause   func(paused bool)
	enable  func(id string, on bool)
	quit    func()
}

func (u *UI) trayActions() trayActions {
	return trayActions{
		open:    func() { u.win.Show(); u.win.RequestFocus() },
		copyEnv: u.copyEnv,
		pause:   func(p bool) { u.core.Relay().SetPaused(p); go u.Refresh() },
		enable: func(id string, on bool) {
			u.do(func() error { return u.core.Accounts().SetEnabled(id, on) })
		},
		quit: u.fapp.Quit,
	}
}

// trayMenu builds the tray menu from app state: a plain function, so tests
// can read it without a tray.
func trayMenu(s snapshot, act trayActions) *fyne.Menu {
	items := []*fyne.MenuItem{
		fyne.NewMenuItem("Open Keypool", act.open),
	}
	if s.health.Blocked != "" {
		items = append(items, fyne.NewMenuItem("⚠ Waiting for the keychain to be unlocked", act.open))
	}
	if h := s.health.Store; h != nil && h.Error != "" {
		items = append(items, fyne.NewMenuItem("⚠ Usage not saved: "+h.Error, act.open))
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
		it := fyne.NewMenuItem(a.Name+" — "+s.stateText(a), func() { act.enable(id, !on) })
		it.Checked = on
		items = append(items, it)
	}
	items = append(items, fyne.NewMenuItemSeparator(), fyne.NewMenuItem("Quit", act.quit))
	m := fyne.NewMenu("Keypool", items...)
	return m
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

// trayIcon is the icon for the pool's mood (PNG: Linux trays drop SVG).
func trayIcon(s snapshot) fyne.Resource { return trayIcons[trayState(s)] }
