//go:build linux || freebsd || openbsd || netbsd || dragonfly

package ui

import (
	"log/slog"
	"sync"

	"github.com/godbus/dbus/v5"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/systray"
)

// dbusTray is the tray where it is a StatusNotifierItem on D-Bus (Linux and
// the BSDs), run by Keypool itself with fyne.io/systray rather than through
// Fyne. Fyne's tray removes and recreates every menu item on each change, so
// item ids move and a click the panel read from an older layout is dropped.
// Here an item is created once and changed in place (title, check, enabled);
// only a change of the menu's shape (items added or removed, a check box
// appearing) builds it anew. It also spares Fyne's hidden monitor window.
type dbusTray struct {
	onTap func()       // a click on the icon
	run   func(func()) // runs a menu item's action where the UI's code runs

	mu      sync.Mutex
	ready   bool          // the tray is on the bus
	menu    *fyne.Menu    // the latest menu, applied once ready
	icon    fyne.Resource // likewise
	tooltip string
	shape   []bool              // per item: separator (true) or item (false)… see shapeOf
	items   []*systray.MenuItem // nil for separators
	actions []func()            // what each item does now, by index
}

func newTray(_ desktop.App, onTap func(), run func(func())) trayer {
	return &dbusTray{onTap: onTap, run: run}
}

// start puts the tray on the session bus, and returns what takes it off
// (nil: it is not on the bus).
func (t *dbusTray) start() (stop func()) {
	// fyne.io/systray shares this connection; when it cannot be had the
	// library leaves its own nil and panics when the tray ends. Without a
	// bus there is no tray to show anyway.
	if _, err := dbus.SessionBus(); err != nil {
		slog.Warn("no tray: the D-Bus session bus cannot be reached", "err", err)
		return nil
	}
	systray.SetTitle("Keypool") // before start: the item's Id is taken from it
	systray.SetOnTapped(t.onTap)
	start, end := systray.RunWithExternalLoop(t.onReady, nil)
	start()
	return func() {
		// The library closes its connection here, which it leaves nil when
		// a step of its start failed (it logged why): that must not turn
		// quitting into a crash.
		defer func() {
			if r := recover(); r != nil {
				slog.Warn("tray: could not take it off the bus", "err", r)
			}
		}()
		end()
	}
}

// needsLoop is false: this tray lives on D-Bus, outside Fyne's loop.
func (*dbusTray) needsLoop() bool { return false }

// onReady applies what was set before the tray was on the bus.
func (t *dbusTray) onReady() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ready = true
	if t.icon != nil {
		systray.SetIcon(t.icon.Content())
	}
	systray.SetTooltip(t.tooltip)
	if t.menu != nil {
		t.apply(t.menu)
	}
}

// SetSystemTrayMenu implements trayer.
func (t *dbusTray) SetSystemTrayMenu(m *fyne.Menu) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.menu = m
	if t.ready {
		t.apply(m)
	}
}

// SetSystemTrayIcon implements trayer.
func (t *dbusTray) SetSystemTrayIcon(r fyne.Resource) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.icon = r
	if t.ready {
		systray.SetIcon(r.Content())
	}
}

// SetTooltip implements trayer.
func (t *dbusTray) SetTooltip(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.tooltip = s
	if t.ready {
		systray.SetTooltip(s)
	}
}

// shapeOf is what decides whether a menu can be shown by changing the items
// in place: per item, whether it is a separator, and whether it has a check
// box (a Linux menu item cannot gain one later).
func shapeOf(m *fyne.Menu) []bool {
	out := make([]bool, 0, 2*len(m.Items))
	for _, it := range m.Items {
		out = append(out, it.IsSeparator, it.Checked)
	}
	return out
}

// apply shows m, in place when its shape is the one shown. t.mu is held.
func (t *dbusTray) apply(m *fyne.Menu) {
	shape := shapeOf(m)
	same := len(shape) == len(t.shape)
	for i := 0; same && i < len(shape); i++ {
		same = shape[i] == t.shape[i]
	}
	if !same {
		t.rebuild(m, shape)
		return
	}
	for i, it := range m.Items {
		t.actions[i] = it.Action
		item := t.items[i]
		if item == nil {
			continue
		}
		item.SetTitle(it.Label)
		if it.Disabled != item.Disabled() {
			if it.Disabled {
				item.Disable()
			} else {
				item.Enable()
			}
		}
	}
}

// rebuild replaces every item with m's. Removing the old items closes their
// click channels, which ends the goroutines that read them.
func (t *dbusTray) rebuild(m *fyne.Menu, shape []bool) {
	systray.ResetMenu()
	t.shape, t.items, t.actions = shape, make([]*systray.MenuItem, len(m.Items)), make([]func(), len(m.Items))
	for i, it := range m.Items {
		t.actions[i] = it.Action
		if it.IsSeparator {
			systray.AddSeparator()
			continue
		}
		var item *systray.MenuItem
		if it.Checked {
			item = systray.AddMenuItemCheckbox(it.Label, "", true)
		} else {
			item = systray.AddMenuItem(it.Label, "")
		}
		if it.Disabled {
			item.Disable()
		}
		t.items[i] = item
		go t.clicks(item, i)
	}
}

// clicks runs item i's current action on each click, on Fyne's goroutine,
// until the item is removed.
func (t *dbusTray) clicks(item *systray.MenuItem, i int) {
	for range item.ClickedCh {
		t.mu.Lock()
		var act func()
		if i < len(t.items) && t.items[i] == item {
			act = t.actions[i]
		}
		t.mu.Unlock()
		if act != nil {
			t.run(act)
		}
	}
}
