// Package ui is Keypool's desktop face: a tray icon with its menu, and a
// window to manage accounts and watch usage and activity. It talks to app/
// only; every widget change happens on Fyne's goroutine (fyne.Do).
package ui

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// Before Fyne reads the locale (see envfix); here too so that every
	// binary with the window, tests included, has it.
	_ "envfix"

	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"keypool/app"
	"keypool/assets"
)

// UI is the window and tray of a running Keypool.
type UI struct {
	fapp     fyne.App
	core     Core
	win      fyne.Window
	accounts *accountsView
	usage    *usageView
	activity *activityView
	settings *settingsView
	tabs     *container.AppTabs
	banner   *widget.Label // shown while usage is not reaching the disk
	now      func() time.Time
	last     snapshot // what the views show; touched on Fyne's goroutine only
	// alerts says once per episode what costs money or is about to run
	// out (paid answers, the paid cap, a short runway).
	alerts app.Alerts

	// tray is where the tray menu and icon go (nil: no tray here), and
	// trayShown what it shows now: both touched on Fyne's goroutine only.
	tray      trayer
	trayShown traySet
	// visible is whether the window is shown: while it is not, a refresh
	// reads only what the tray and the notifications need.
	visible atomic.Bool
	// nextReturn is when the first cooling account comes back (Unix
	// nanoseconds; 0: none), for the hidden window's next wake.
	nextReturn atomic.Int64
	// askedUpdates: the first show asked (or did not need to ask) whether
	// to look for new versions; updateQuestion is that dialog, for tests.
	askedUpdates   atomic.Bool
	updateQuestion *dialog.ConfirmDialog
	// refreshes counts Refresh calls, for tests.
	refreshes atomic.Int64
	// loop is whether Fyne's event loop runs (see loop.go).
	loop *loopState
	// tab is the tab in view; everyTab (tests) updates every tab anyway.
	tab      atomic.Int32
	everyTab bool
	viewsMu  sync.Mutex // one refresh of the views at a time (see Refresh)
	// work is the goroutines the UI starts (following the app, refreshes,
	// taking the tray off the bus): Wait waits for them. refreshing counts
	// the refreshes scheduled on it and not yet done.
	work       crew
	refreshing atomic.Int32
	// life ends when the UI stops (Wait, or the end of Run's ctx): what a
	// dialog starts (a login, a connection test) stops with it.
	life    context.Context
	endLife context.CancelFunc
}

// goOwned runs f on a goroutine the UI waits for (Wait), counted in wg
// too; once the UI is stopping nothing starts.
func (u *UI) goOwned(wg *sync.WaitGroup, f func()) {
	wg.Add(1)
	if !u.work.Go(func() { defer wg.Done(); f() }) {
		wg.Done()
	}
}

// openURL opens url in the browser, on a goroutine the UI owns.
func (u *UI) openURL(url string) {
	u.work.Go(func() {
		if err := openBrowser(u.life, url); err != nil {
			u.onMain(func() { dialog.ShowError(fmt.Errorf("open %s: %w", url, err), u.win) })
		}
	})
}

// refreshLater refreshes the views on a goroutine of their own, off the
// caller's (often Fyne's) thread.
func (u *UI) refreshLater() {
	u.refreshing.Add(1)
	if !u.work.Go(func() { defer u.refreshing.Add(-1); u.Refresh() }) {
		u.refreshing.Add(-1)
	}
}

// crew is a set of goroutines that some owner waits for. Once the wait has
// begun, no more start.
type crew struct {
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// Go runs f on a goroutine of the crew, unless the crew is being waited
// for; it reports whether f was started.
func (c *crew) Go(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.wg.Go(f)
	}
	return !c.stopped
}

// Wait lets no more goroutines start and waits for those running.
func (c *crew) Wait() {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	c.wg.Wait()
}

// New builds the window (not shown) for core.
func New(fapp fyne.App, core Core) *UI {
	u := &UI{fapp: fapp, core: core, now: time.Now, loop: newLoopState()}
	u.life, u.endLife = context.WithCancel(context.Background())
	if d, ok := fapp.(desktop.App); ok && trayPossible() {
		u.tray = newTray(d, u.Show, u.onMain)
	}
	u.win = fapp.NewWindow("Keypool")
	u.win.SetIcon(Icon)
	u.accounts = newAccountsView(u)
	u.usage = newUsageView(u)
	u.activity = newActivityView(u)
	u.settings = newSettingsView(u)
	u.tabs = container.NewAppTabs(
		container.NewTabItem("Accounts", u.accounts.content),
		container.NewTabItem("Usage", u.usage.content),
		container.NewTabItem("Activity", u.activity.content),
		container.NewTabItem("Settings", u.settings.content),
	)
	u.tabs.OnSelected = func(*container.TabItem) {
		u.tab.Store(int32(u.tabs.SelectedIndex()))
		u.refreshLater()
	}
	u.banner = widget.NewLabel("")
	u.banner.Importance = widget.DangerImportance
	u.banner.Wrapping = fyne.TextWrapWord
	u.banner.Hide()
	// The window is never smaller than minWindow: every view is laid out
	// to fit there.
	floor := canvas.NewRectangle(color.Transparent)
	floor.SetMinSize(minWindow)
	u.win.SetContent(container.NewStack(floor, container.NewBorder(u.banner, nil, nil, nil, u.tabs)))
	u.win.Resize(fyne.NewSize(960, 640))
	// Closing the window leaves Keypool in the tray.
	u.win.SetCloseIntercept(func() {
		u.visible.Store(false)
		u.win.Hide()
	})
	return u
}

// minWindow is the window's smallest size.
var minWindow = fyne.NewSize(800, 520)

// Icon is the app icon as a Fyne resource.
var Icon = fyne.NewStaticResource("keypool.png", assets.Icon)

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

// Show shows the window, up to date, in front, starting Fyne's loop if it
// does not run yet. Safe from any goroutine.
func (u *UI) Show() { u.withLoop(u.show) }

// show shows the window; on Fyne's goroutine. The first time, if the
// user was never asked whether Keypool may look for new versions, it asks.
func (u *UI) show() {
	u.visible.Store(true)
	u.win.Show()
	u.win.RequestFocus()
	u.refreshLater()
	if !u.askedUpdates.Swap(true) {
		if _, asked := u.core.UpdateCheck(); !asked {
			u.askUpdates()
		}
	}
}

// askUpdates asks once whether Keypool may look for a newer version; the
// answer, either way, is kept (Settings changes it).
func (u *UI) askUpdates() {
	d := dialog.NewConfirm("Look for new versions?",
		"Keypool can check once a day whether a newer version is out. It reads a release file signed with Keypool's key; nothing about you or your accounts is sent. You can change this in Settings.",
		func(yes bool) {
			if err := u.core.SetUpdateCheck(yes); err != nil {
				dialog.ShowError(err, u.win)
			}
			u.settings.updates.SetChecked(yes)
		}, u.win)
	d.SetConfirmText("Check daily")
	d.SetDismissText("Not now")
	u.updateQuestion = d
	d.Show()
}

// Refresh reads the app's state again and updates the tray and, while the
// window is shown, every view. Safe from any goroutine.
func (u *UI) Refresh() {
	u.refreshes.Add(1)
	shown := u.visible.Load()
	// A shown window reads and redraws only the tab in view; a tab is
	// brought up to date when it is selected.
	tab := trayOnly
	if shown {
		tab = int(u.tab.Load())
		if u.everyTab {
			tab = allTabs
		}
	}
	snap := u.snapshotFor(tab)
	if first := snap.firstReturn(); first.IsZero() {
		u.nextReturn.Store(0)
	} else {
		u.nextReturn.Store(first.UnixNano())
	}
	u.onMain(func() {
		// Fyne's goroutine runs one of these at a time; the test driver
		// runs them where they are called, so they take turns here too.
		u.viewsMu.Lock()
		defer u.viewsMu.Unlock()
		u.notify(u.last, snap)
		u.last = snap
		if shown {
			for i, update := range []func(snapshot){u.accounts.update, u.usage.update, u.activity.update, u.settings.update} {
				if tab == allTabs || tab == i {
					update(snap)
				}
			}
			u.updateBanner(snap)
		}
		u.installTray(snap)
	})
}

// Run shows the window (unless hidden is set, as at login), installs the
// tray, and keeps the views live until ctx is done, then takes the tray
// away; Wait waits for that.
func (u *UI) Run(ctx context.Context, hidden bool) {
	stopTray := func() {}
	if t, ok := u.tray.(trayStarter); ok {
		if stop := t.start(); stop != nil {
			stopTray = stop
		}
	}
	if !hidden {
		u.Show()
	} else {
		u.Refresh()
	}
	u.work.Go(func() {
		u.follow(ctx)
		u.endLife() // the dialogs' work stops with the app
		stopTray()
	})
}

// Wait returns once every goroutine the UI started has ended: those that
// follow the app and keep the tray end when the ctx given to Run is done
// (Wait blocks until then), and refreshes in flight run to their end. No
// refresh starts from then on. Call it before the core app closes.
func (u *UI) Wait() {
	u.endLife()
	u.work.Wait()
}

// How the views follow the app: a burst of changes (a request's record, its
// cooldown, its quota) is let settle this long before one refresh; a shown
// window refreshes every second besides (its countdowns tick); a hidden one
// wakes when a cooldown ends, else only every idleCheck.
var (
	settle    = 150 * time.Millisecond
	idleCheck = time.Minute
)

// follow refreshes on the app's changes and when time alone changes what
// is shown, until ctx is done.
func (u *UI) follow(ctx context.Context) {
	changes := u.core.Changes()
	for {
		t := time.NewTimer(u.nextWake())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changes:
			t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-time.After(settle):
			}
		case <-t.C:
		}
		u.Refresh()
	}
}

// nextWake is how long the views may wait for a change before time alone
// changes what they show: a second while the window shows a countdown (an
// account is resting), else until the first resting account is back, or
// idleCheck. A window left open with nothing resting is redrawn only when
// something changes: each redraw costs Fyne a software-rendered frame.
func (u *UI) nextWake() time.Duration {
	if u.visible.Load() && u.nextReturn.Load() != 0 {
		return time.Second
	}
	wait := idleCheck
	if next := time.Unix(0, u.nextReturn.Load()); u.nextReturn.Load() != 0 {
		wait = min(wait, max(time.Until(next)+100*time.Millisecond, 100*time.Millisecond))
	}
	return wait
}

// installTray sets the tray's menu, icon and tooltip, each only when what it
// shows has changed: every set is a D-Bus signal (a whole new menu, with new
// item ids, or a 256-pixel icon) to whatever draws the tray.
func (u *UI) installTray(s snapshot) {
	if u.tray == nil {
		return
	}
	menu := trayMenu(s, u.trayActions())
	next := traySet{menu: menuKey(menu), icon: trayState(s), tooltip: traySummary(s)}
	if next.menu != u.trayShown.menu {
		u.tray.SetSystemTrayMenu(menu)
	}
	if next.icon != u.trayShown.icon {
		u.tray.SetSystemTrayIcon(trayIcons[next.icon])
	}
	if next.tooltip != u.trayShown.tooltip {
		u.tray.SetTooltip(next.tooltip)
	}
	u.trayShown = next
}

// trayPossible reports whether a tray can exist: on Linux only with a D-Bus
// session (without one Fyne's tray panics at quit).
func trayPossible() bool {
	if runtime.GOOS != "linux" {
		return true
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return true
	}
	_, err := os.Stat(os.Getenv("XDG_RUNTIME_DIR") + "/bus")
	return err == nil
}

// updateBanner shows, above every tab, what keeps Keypool from working
// fully: a keychain it cannot read, usage it cannot save.
func (u *UI) updateBanner(s snapshot) {
	var lines []string
	if s.health.Blocked != "" {
		lines = append(lines, s.health.Blocked)
	}
	if s.health.Store != nil {
		lines = append(lines, storeWarning(s.health.Store))
	}
	if len(lines) == 0 {
		u.banner.Hide()
		return
	}
	u.banner.SetText(strings.Join(lines, "\n"))
	u.banner.Show()
}

// storeWarning says what is wrong with saving usage, what still works and
// what to do.
func storeWarning(h *app.StoreHealth) string {
	if h.Error != "" {
		return fmt.Sprintf("Usage is not being saved: %s. Requests still go through; %d records are kept in memory and saved as soon as the disk has space or is writable again.",
			h.Error, h.Held)
	}
	return "Usage store: " + h.Summary() + "."
}

// notify tells the user, once per change, what needs them: a keychain to
// unlock, an account that must log in again, every account out (with when
// one returns), or usage that can no longer be saved.
func (u *UI) notify(prev, cur snapshot) {
	if cur.health.Blocked != "" && prev.health.Blocked == "" {
		// Also at the first look: at login the window stays hidden.
		u.fapp.SendNotification(fyne.NewNotification("Keypool: waiting for the keychain", cur.health.Blocked))
	}
	if prev.now.IsZero() {
		return // the first look: nothing changed yet
	}
	for _, a := range cur.accounts {
		if st, _ := cur.state(a.ID); st == app.StateNeedsLogin {
			if was, _ := prev.state(a.ID); was == app.StateNeedsLogin {
				continue
			}
			u.fapp.SendNotification(fyne.NewNotification("Keypool: log in again",
				a.Name+" needs a new login (its refresh token was refused). Open Keypool → Log in with browser."))
		}
	}
	if cur.health.Store != nil && cur.health.Store.Error != "" && (prev.health.Store == nil || prev.health.Store.Error == "") {
		u.fapp.SendNotification(fyne.NewNotification("Keypool: cannot save usage", storeWarning(cur.health.Store)))
	}
	for _, al := range append(u.alerts.Check(cur.health, cur.now, u.core.RunwayWarnMinutes()), u.alerts.CheckLogins(cur.accounts, cur.now)...) {
		u.fapp.SendNotification(fyne.NewNotification(al.Title, al.Text))
	}
	if prev.health.Status != "unavailable" && cur.health.Status == "unavailable" && len(cur.accounts) > 0 && !cur.paused && cur.health.Blocked == "" {
		msg := "Every account is out."
		if first := cur.firstReturn(); !first.IsZero() {
			msg += " The first is back at " + first.Local().Format("15:04") + "."
		}
		u.fapp.SendNotification(fyne.NewNotification("Keypool: no account available", msg))
	}
}
