package ui

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"keypool/app"
)

// changeAccounts runs change on the app's own accounts; serving a config
// file there are none to change, and the error says what to do instead.
func (u *UI) changeAccounts(change func(*app.Accounts) error) error {
	accts, err := u.core.ChangeableAccounts()
	if err != nil {
		return err
	}
	return change(accts)
}

// do runs a change to the accounts, tells the relay, refreshes the views,
// and shows an error in words if the change failed.
func (u *UI) do(change func() error) {
	if err := change(); err != nil {
		// From the tray the window may not be up: bring it, with the error.
		u.withLoop(func() {
			if !u.visible.Load() {
				u.show()
			}
			dialog.ShowError(err, u.win)
		})
	}
	u.core.ReloadAccounts()
	u.refreshLater()
}

// settingsView shows where the relay listens, the local client keys (add,
// copy, show, revoke) and how to point each CLI at the relay.
type settingsView struct {
	u         *UI
	keys      []app.ClientKeyInfo
	projects  []app.Project // connected to a profile
	list      *widget.List
	connects  map[app.Client]*connectRow
	avoid     *widget.Select  // avoid_runout_minutes
	version   *widget.Label   // this build's version
	updates   *widget.Check   // the daily update check
	newer     *fyne.Container // a newer Keypool, with its release notes (hidden: none)
	newerText *widget.Label
	runway    *widget.Select // [notify] runway_minutes
	paidCap   *widget.Entry  // [spend] paid_daily_usd
	content   fyne.CanvasObject
}

func newSettingsView(u *UI) *settingsView {
	v := &settingsView{u: u}
	v.list = widget.NewList(func() int { return len(v.keys) }, newKeyRow,
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(v.keys) {
				v.bindKeyRow(v.keys[i], o)
			}
		})
	add := widget.NewButton("Add client key", func() {
		u.do(func() error {
			_, err := u.core.AddClientKey(fmt.Sprintf("key %d", len(v.keys)+1))
			return err
		})
	})
	copyBtn := func(client string) *widget.Button {
		return widget.NewButton("Copy env for "+client, func() { u.copyEnv(client) })
	}
	// Connect writes each CLI's own config, so new terminals just work; one
	// button per CLI says what it will do, by the CLI's state.
	v.connects = map[app.Client]*connectRow{}
	connectRows := container.NewVBox()
	for _, c := range app.Clients {
		v.connects[c] = newConnectRow(c, string(c))
		connectRows.Add(v.connects[c].row)
	}
	host, port := widget.NewEntry(), widget.NewEntry()
	if h, p, err := net.SplitHostPort(u.core.Addr()); err == nil {
		host.SetText(h)
		port.SetText(p)
	}
	save := widget.NewButton("Save address", func() {
		h := strings.TrimSpace(host.Text)
		n, err := strconv.Atoi(strings.TrimSpace(port.Text))
		if err == nil {
			err = u.core.SetListen(h, n)
		}
		if err != nil {
			dialog.ShowError(err, u.win)
			return
		}
		msg := "Keypool listens there from its next start."
		if w := u.core.WarningFor(h); w != "" {
			msg += "\n\n" + w
		}
		dialog.ShowInformation("Saved", msg, u.win)
	})
	// Beyond loopback without TLS, the client keys cross the network in
	// the clear: said under the address.
	plainHTTP := widget.NewLabel(u.core.Warning())
	plainHTTP.Wrapping = fyne.TextWrapWord
	plainHTTP.Importance = widget.WarningImportance
	if plainHTTP.Text == "" {
		plainHTTP.Hide()
	}
	keysHelp := widget.NewLabel("With no keys, any program on this computer can use the relay. With keys, clients must send one. " +
		"A profile's key is served by its accounts only (one pool per project) and leaves an open relay open.")
	keysHelp.Wrapping = fyne.TextWrapWord
	top := container.NewVBox(
		widget.NewLabel("Relay: "+u.core.URL()),
		plainHTTP,
		container.NewBorder(nil, nil, widget.NewLabel("Host"),
			container.NewHBox(widget.NewLabel("Port"), container.NewGridWrap(fyne.NewSize(90, port.MinSize().Height), port), save), host),
		container.NewHBox(copyBtn("Claude Code"), copyBtn("Codex"), copyBtn("Gemini CLI")),
		connectRows,
		widget.NewSeparator(),
		container.NewHBox(widget.NewLabelWithStyle("Local client keys", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), add,
			widget.NewButton("Add profile…", v.showAddProfile)),
		keysHelp,
	)
	strategy := widget.NewSelect([]string{"priority", "fill-first", "spread"}, nil)
	explain := widget.NewLabel("")
	explain.Wrapping = fyne.TextWrapWord
	strategy.OnChanged = func(s string) {
		explain.SetText(strategyHelp[s])
		if s == u.core.Strategy() {
			return
		}
		if err := u.core.SetStrategy(s); err != nil {
			dialog.ShowError(err, u.win)
		}
	}
	strategy.SetSelected(u.core.Strategy())
	v.avoid = newMinutesSelect(u, u.core.AvoidRunout, u.core.SetAvoidRunout, avoidChoices)
	v.runway = newMinutesSelect(u, u.core.RunwayWarnMinutes, u.core.SetRunwayWarnMinutes, avoidChoices)
	v.paidCap = widget.NewEntry()
	v.paidCap.SetText(strconv.FormatFloat(u.core.PaidDailyCap(), 'f', -1, 64))
	setCap := func() {
		usd, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v.paidCap.Text), "$")), 64)
		if err == nil {
			err = u.core.SetPaidDailyCap(usd)
		} else {
			err = fmt.Errorf("daily cap on paid answers: %q is not an amount in USD (0: no cap)", v.paidCap.Text)
		}
		if err != nil {
			dialog.ShowError(err, u.win)
		}
	}
	v.paidCap.OnSubmitted = func(string) { setCap() }
	avoidExplain := widget.NewLabel(avoidHelp)
	avoidExplain.Wrapping = fyne.TextWrapWord
	login := widget.NewCheck("Start Keypool at login (in the tray)", nil)
	if on, err := app.StartAtLogin(); err == nil {
		login.SetChecked(on)
	}
	login.OnChanged = func(on bool) {
		if err := app.SetStartAtLogin(on); err != nil {
			dialog.ShowError(err, u.win)
		}
	}
	logPath := app.LogPath(u.core.DatabasePath())
	v.version = widget.NewLabel("Keypool " + app.Version().String())
	v.updates = widget.NewCheck("Check for a newer Keypool once a day (a release signed with Keypool's key; nothing about you is sent)", nil)
	if on, _ := u.core.UpdateCheck(); on {
		v.updates.SetChecked(true)
	}
	v.updates.OnChanged = func(on bool) {
		if err := u.core.SetUpdateCheck(on); err != nil {
			dialog.ShowError(err, u.win)
		}
		u.refreshLater()
	}
	v.newerText = widget.NewLabel("")
	v.newer = container.NewHBox(v.newerText, widget.NewButton("Release notes", func() {
		if r, ok := u.core.UpdateAvailable(); ok {
			u.openURL(r.Notes)
		}
	}))
	v.newer.Hide()
	bottom := container.NewVBox(
		container.NewHBox(widget.NewLabel("Equal-priority accounts share work by"), strategy, widget.NewLabel("(from the next start)")),
		explain,
		container.NewHBox(widget.NewLabel("New conversations avoid an account forecast to run out within"), v.avoid),
		avoidExplain,
		container.NewHBox(widget.NewLabel("Warn when a pool's runway drops under"), v.runway),
		container.NewHBox(widget.NewLabel("Paid answers (API keys, extra usage) may cost at most $"),
			container.NewGridWrap(fyne.NewSize(90, v.paidCap.MinSize().Height), v.paidCap), widget.NewButton("Set", setCap),
			widget.NewLabel("a day (0: no cap)")),
		login,
		container.NewHBox(widget.NewLabel("Log: "+logPath),
			widget.NewButton("Copy path", func() { u.fapp.Clipboard().SetContent(logPath) })),
		v.version,
		v.updates,
		v.newer,
		widget.NewLabel("The theme follows the system."))
	// Scrolls when the window is smaller than everything here.
	v.content = container.NewVScroll(container.NewBorder(top, bottom, nil, nil, v.list))
	return v
}

// newKeyRow is a client key's row: its name and state, then Copy, Show and
// Revoke (Remove for a broken key).
func newKeyRow() fyne.CanvasObject {
	label := widget.NewLabel("key")
	label.Truncation = fyne.TextTruncateEllipsis
	return container.NewBorder(nil, nil, nil,
		container.NewHBox(widget.NewButton("Copy", nil), widget.NewButton("Show", nil), widget.NewButton("Revoke", nil)),
		label)
}

// bindKeyRow shows client key k in a row made by newKeyRow.
func (v *settingsView) bindKeyRow(k app.ClientKeyInfo, o fyne.CanvasObject) {
	u := v.u
	row := o.(*fyne.Container)
	var label *widget.Label
	var buttons *fyne.Container
	for _, c := range row.Objects {
		switch w := c.(type) {
		case *widget.Label:
			label = w
		case *fyne.Container:
			buttons = w
		}
	}
	text := k.Label + "  (" + k.ID + ", added " + k.Created.Local().Format("2006-01-02") + ")"
	if k.Profile != "" {
		text = "profile " + k.Profile + ": " + strings.Join(k.Accounts, ", ") + "  (" + k.ID + ")"
		var in []string
		for _, p := range v.projects {
			if p.Profile == k.Profile {
				in = append(in, p.Dir+" ("+string(p.Client)+")")
			}
		}
		if len(in) > 0 {
			text += " · projects: " + strings.Join(in, ", ")
		}
	}
	copyB, showB, revokeB := buttons.Objects[0].(*widget.Button), buttons.Objects[1].(*widget.Button), buttons.Objects[2].(*widget.Button)
	if k.Broken != "" {
		// Nothing to copy or show; Remove is the way out.
		text = "⚠ " + k.Label + " (" + k.ID + ") broken: " + k.Broken
		copyB.Disable()
		showB.Disable()
		revokeB.SetText("Remove")
	} else {
		copyB.Enable()
		showB.Enable()
		revokeB.SetText("Revoke")
	}
	label.SetText(text)
	copyB.OnTapped = func() {
		if s, err := u.core.ClientKeySecret(k.ID); err == nil {
			u.fapp.Clipboard().SetContent(s.Reveal())
		} else {
			dialog.ShowError(err, u.win)
		}
	}
	showB.OnTapped = func() {
		if s, err := u.core.ClientKeySecret(k.ID); err == nil {
			e := widget.NewEntry()
			e.SetText(s.Reveal())
			dialog.ShowCustom("Client key "+k.ID, "Close", e, u.win)
		} else {
			dialog.ShowError(err, u.win)
		}
	}
	revokeB.OnTapped = func() {
		title, msg := "Revoke key", "Revoke "+k.Label+"? Clients using it are refused from now on."
		if k.Broken != "" {
			title, msg = "Remove key", "Remove "+k.Label+"? Its secret is gone, so no client can use it anyway."
		}
		dialog.ShowConfirm(title, msg, func(ok bool) {
			if ok {
				u.do(func() error { return u.core.RevokeClientKey(k.ID) })
			}
		}, u.win)
	}
}

// avoidChoices are the avoid-run-out settings offered, in minutes (0: off).
var avoidChoices = []int{0, 15, 30, 60, 120}

// avoidHelp says what the avoid-run-out setting trades.
const avoidHelp = "So a long task need not move half-way and lose its prompt cache; the last percent of a plan may then go to a pay-per-token key instead. Conversations already bound stay where they are."

// avoidText names a setting in minutes for the select.
func avoidText(m int) string {
	switch {
	case m == 0:
		return "off"
	case m%60 == 0:
		return fmt.Sprintf("%d h", m/60)
	}
	return fmt.Sprintf("%d min", m)
}

// newMinutesSelect is a select for a setting in minutes ([scheduler]
// avoid_runout_minutes, [notify] runway_minutes): it applies at once and is
// saved for the next start. A value the config set outside the usual
// choices is offered too.
func newMinutesSelect(u *UI, get func() int, set func(int) error, choices []int) *widget.Select {
	cur := get()
	mins := choices
	if !slices.Contains(mins, cur) {
		mins = append(slices.Clone(mins), cur)
		slices.Sort(mins)
	}
	byText := map[string]int{}
	var opts []string
	for _, m := range mins {
		byText[avoidText(m)] = m
		opts = append(opts, avoidText(m))
	}
	sel := widget.NewSelect(opts, nil)
	sel.SetSelected(avoidText(cur))
	sel.OnChanged = func(s string) {
		if m := byText[s]; m != get() {
			if err := set(m); err != nil {
				dialog.ShowError(err, u.win)
			}
		}
	}
	return sel
}

// strategyHelp says in one sentence what each strategy does.
var strategyHelp = map[string]string{
	"priority":   "priority: new conversations go to the least busy of the equal accounts.",
	"fill-first": "fill-first: one account takes the work until its plan quota is nearly used up, then the one whose weekly window resets soonest.",
	"spread":     "spread: new conversations go to the account whose plan quota is least used.",
}

func (v *settingsView) update(s snapshot) {
	v.keys = s.clientKeys
	v.projects, _ = v.u.core.ConnectedProjects()
	v.list.Refresh()
	for _, r := range v.connects {
		r.update(v.u)
	}
	if up := s.health.Update; up != nil {
		v.newerText.SetText("Keypool " + up.Version + " is available: keypool update installs it (or your package manager).")
		v.newer.Show()
	} else {
		v.newer.Hide()
	}
}

// connect writes (or undoes) a CLI's config to use this relay.
func (u *UI) connect(c app.Client, on bool) error { return u.core.ConnectClient(c, on) }

// envFor is the shell exports that point a client at the relay with key.
func envFor(client, base, key string) string {
	switch client {
	case "Codex":
		return "# in ~/.codex/config.toml: a model provider with base_url = \"" + base + "/openai/v1\", env_key = \"KEYPOOL_API_KEY\", wire_api = \"responses\"\nexport KEYPOOL_API_KEY=" + key
	case "Gemini CLI":
		return "export GOOGLE_GEMINI_BASE_URL=" + base + "/gemini GEMINI_API_KEY=" + key
	}
	return "export ANTHROPIC_BASE_URL=" + base + " ANTHROPIC_AUTH_TOKEN=" + key
}

// copyEnv copies a client's exports, with the first client key (or a
// placeholder when the relay needs none).
func (u *UI) copyEnv(client string) {
	key, err := u.core.ClientKeyForCLI()
	if err != nil {
		dialog.ShowError(err, u.win)
		return
	}
	u.fapp.Clipboard().SetContent(envFor(client, u.core.URL(), key))
}

// parseProxyURL reads socks5://[user@]host:port or http://[user@]host:port.
func parseProxyURL(s string) (*app.AccountProxy, error) {
	pu, err := url.Parse(s)
	if err != nil || (pu.Scheme != "socks5" && pu.Scheme != "http") || pu.Hostname() == "" || pu.Port() == "" {
		return nil, fmt.Errorf("proxy %q: want socks5://host:port or http://host:port", s)
	}
	if _, has := pu.User.Password(); has {
		return nil, fmt.Errorf("proxy: leave the password out of the URL")
	}
	port, _ := strconv.Atoi(pu.Port())
	return &app.AccountProxy{Type: strings.ToLower(pu.Scheme), Host: pu.Hostname(), Port: port, Username: pu.User.Username()}, nil
}
