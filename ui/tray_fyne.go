//go:build !(linux || freebsd || openbsd || netbsd || dragonfly)

package ui

import (
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/systray"
)

// systemTray is the desktop driver's tray (macOS, Windows; see newTray).
type systemTray struct{ desktop.App }

// SetTooltip sets the tray's tooltip.
func (systemTray) SetTooltip(s string) { systray.SetTooltip(s) }

// newTray is Fyne's tray where the tray is not a D-Bus StatusNotifierItem
// (macOS, Windows): there Fyne runs it within its own event loop.
func newTray(d desktop.App, _ func(), _ func(func())) trayer { return systemTray{d} }

// start does nothing, and there is nothing to stop: Fyne starts its tray
// with the first menu.
func (systemTray) start() (stop func()) { return nil }

// needsLoop is true: Fyne's tray lives in Fyne's loop.
func (systemTray) needsLoop() bool { return true }
